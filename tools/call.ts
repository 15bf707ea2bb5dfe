import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { WaveFile } from 'wavefile';
import { WebSocket } from 'ws';
import { FRAME_MS } from '../ingest-container/src/audio/frame';
import { mulawDecode, mulawEncode } from '../core/mulaw';
import type { FromCallee, ToCallee } from '../local/plivo/answerers';
import { callIdFor, type CallView } from '../core/calls/model';
import type { LocalStackInfo } from '../local/stack';
import { readLocalState } from '../local/state';
import { decodeWav, tone, WavError } from './audio';
import { SimulatedCall } from './plivo-simulator';
import { RoomPeer } from './room-peer';

const USAGE = `Places simulated Plivo calls: a signed Answer URL POST, the <Stream> XML, the audio WebSocket
(start, real-time 20 ms mu-law frames, DTMF, stop), then the Event=Hangup POST. With --answer, answers outbound
calls instead: those placed to that number through POST /v2/sip/call on the local stack (npm start's Plivo emulator).

  npm run call -- [--answer-url URL] [--from E164] [--to E164] [--auth-token T]
                  [--play in.wav] [--record out.wav] [--echo] [--seconds N] [--dtmf 12#] [--calls N]
  npm run call -- --answer E164 [--play in.wav] [--record out.wav] [--seconds N] [--calls N]

  --answer-url   the connector's webhook URL (default: the local stack's demo connector)
  --from, --to   the caller and the called number (default 14155550100, 14155550199: Plivo's form, no +)
  --auth-token   the connector's Plivo auth token: requests and the stream are V3-signed with it
  --play         a WAV file (any rate, depth and channel count) to speak; default a 440 Hz tone
  --record       write what the call heard to this WAV (8 kHz, 16-bit); with --calls N, one file per call
  --echo         a room participant joins each call's room and sends back what it hears, so a call alone in its
                 room hears itself (local stack only)
  --seconds      how long each call streams (default: the WAV's length, else 5)
  --dtmf         digits to press, one every 250 ms from the first second
  --calls        how many calls to place at once (default 1)

  --answer       answer the calls to this number (E.164) until --calls of them have ended: the callee speaks
                 --play (looped; default a 440 Hz tone) and hangs up after --seconds (default: stays until the
                 call is ended by the API, the room or its time limit); --record gets what each call heard

Prints a summary: each call's id and room (placing; read from the API with VIDEOSDK_TOKEN, else the local stack's
demo token), answer latency (placing) or call length (answering), time to first audio back, frames sent and received,
late frames (received 30-200 ms after the previous one; longer gaps are silence), and why a call failed. Exits 1 if any
call failed. The local stack is the one npm start runs on DATA_DIR (default .data).`;

const SAMPLES_PER_FRAME = 160;
/** Gaps between received frames in this range are late frames; longer ones are the room being silent. */
const LATE_MS = [30, 200] as const;

interface CallResult {
  readonly ok: boolean;
  readonly error?: string;
  /** A placed call's id at the connector, and its room when the API said. */
  readonly callId?: string;
  readonly roomId?: string | null;
  readonly answerMs: number;
  /** From the stream's start to its close. */
  readonly durationMs: number;
  readonly firstAudioMs: number | null;
  readonly framesSent: number;
  readonly framesReceived: number;
  readonly lateFrames: number;
}

/** A WAV file's audio as 8 kHz mono 16-bit PCM; a file it cannot read is named with the reason. */
function readWav8k(file: string): Int16Array {
  try {
    return decodeWav(readFileSync(file));
  } catch (err) {
    if (err instanceof WavError) throw new Error(`--play ${file}: ${err.message}`);
    throw err;
  }
}

/** What a call heard, on its timeline: each frame at its arrival slot, silence in the gaps. */
function recording(call: SimulatedCall, startedAt: number): Int16Array {
  const slots: { slot: number; pcm: Int16Array }[] = [];
  let next = 0;
  for (const frame of call.received) {
    const slot = Math.max(next, Math.round((frame.at - startedAt) / FRAME_MS));
    slots.push({ slot, pcm: mulawDecode(frame.mulaw) });
    next = slot + 1;
  }
  const out = new Int16Array(next * SAMPLES_PER_FRAME);
  for (const { slot, pcm } of slots) out.set(pcm, slot * SAMPLES_PER_FRAME);
  return out;
}

function lateFrames(call: SimulatedCall): number {
  let late = 0;
  for (let i = 1; i < call.received.length; i++) {
    const gap = (call.received[i]?.at as number) - (call.received[i - 1]?.at as number);
    if (gap >= LATE_MS[0] && gap < LATE_MS[1]) late++;
  }
  return late;
}

function writeWav(file: string, pcm: Int16Array): void {
  const wav = new WaveFile();
  wav.fromScratch(1, 8000, '16', pcm);
  writeFileSync(file, wav.toBuffer());
}

function recordFile(base: string, index: number, calls: number): string {
  if (calls === 1) return base;
  const dot = base.toLowerCase().endsWith('.wav') ? base.length - 4 : base.length;
  return `${base.slice(0, dot)}-${index + 1}${base.slice(dot)}`;
}

/** What the connector's API (at the Answer URL's origin) says of a call: its room, and why it ended. */
type CallFacts = Pick<CallView, 'roomId' | 'status'> & { readonly additionalDetails: Pick<CallView['additionalDetails'], 'hangupReason'> };

/** The connector's API as the tool reaches it, for each call's room and fate, and `--echo`'s participants. */
class ConnectorApi {
  private readonly echoes = new Map<string, Promise<RoomPeer>>();

  constructor(
    private readonly apiUrl: string,
    private readonly token: string,
    /** Where `--echo`'s participants join: the local stack's media URL; null without --echo. */
    private readonly echoMediaUrl: string | null,
  ) {}

  /** The call's record, or null when the API does not show it (another tenant's connector, no such call, down). */
  async facts(callId: string): Promise<CallFacts | null> {
    try {
      const res = await fetch(`${this.apiUrl}/v2/sip/call/${callId}`, { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(5000) });
      return res.ok ? ((await res.json()) as { data: CallFacts }).data : null;
    } catch {
      return null;
    }
  }

  /** With --echo: a participant of `roomId` (one per room, so echoes never feed each other) sending back what it hears. */
  async echo(roomId: string | null): Promise<void> {
    if (!this.echoMediaUrl) return;
    if (!roomId) throw new Error('--echo: the API did not say which room the call is in');
    let peer = this.echoes.get(roomId);
    if (!peer) {
      peer = RoomPeer.join(this.echoMediaUrl, roomId, { token: this.token, sampleRate: 8000 });
      this.echoes.set(roomId, peer);
    }
    (await peer).echo();
  }

  async close(): Promise<void> {
    await Promise.all([...this.echoes.values()].map((peer) => peer.then((p) => p.close(), () => undefined)));
  }
}

async function placeCall(call: SimulatedCall, audio: Int16Array, dtmf: string, record: string | undefined, progress: { sent: number }, api: ConnectorApi | null): Promise<CallResult> {
  let framesSent = 0;
  const callId = callIdFor(call.callUuid);
  try {
    await call.start();
    const startedAt = performance.now();
    const roomId = (await api?.facts(callId))?.roomId ?? null;
    await api?.echo(roomId);
    const presses = [...dtmf].map((digit, i) => setTimeout(() => call.sendDtmf(digit), 1000 + i * 250));
    await call.play(audio, () => {
      framesSent++;
      progress.sent++;
    });
    presses.forEach(clearTimeout);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await call.hangup();
    const closedByServer = call.closeCode !== null && call.closeCode !== 1000 && call.closeCode !== 1005;
    return {
      ...heard(call, startedAt, framesSent, record),
      callId,
      roomId,
      ok: !closedByServer,
      ...(closedByServer && { error: `the connector closed the stream: ${call.closeCode} ${call.closeReason}` }),
    };
  } catch (err) {
    // A call the connector rejected has a record that says why.
    const facts = await api?.facts(callId);
    const reason = facts?.additionalDetails.hangupReason;
    const fate = facts ? ` (the call is ${facts.status}${reason ? `: ${reason}` : ''})` : '';
    const error = `${err instanceof Error ? err.message : String(err)}${fate}`;
    // No record, no call id: the connector never took the call.
    return { ok: false, error, ...(facts && { callId, roomId: facts.roomId }), answerMs: call.answerMs, durationMs: 0, firstAudioMs: null, framesSent, framesReceived: call.received.length, lateFrames: 0 };
  }
}

/** A finished stream's result (a success), its recording written when asked for. */
function heard(call: SimulatedCall, startedAt: number, framesSent: number, record: string | undefined): CallResult {
  if (record) writeWav(record, recording(call, startedAt));
  const first = call.received[0];
  return {
    ok: true,
    answerMs: call.answerMs,
    durationMs: performance.now() - startedAt,
    firstAudioMs: first ? first.at - startedAt : null,
    framesSent,
    framesReceived: call.received.length,
    lateFrames: lateFrames(call),
  };
}

/**
 * The callee of outbound calls to `number`: registers with the local stack's Plivo emulator, which hands it each
 * stream of a call to that number (URL and signed upgrade headers); it opens the stream as Plivo does, speaks `audio`
 * (looped) in real time, records what it hears, and hangs up after `seconds` (null: never). Resolves once `calls`
 * calls have ended.
 */
async function answerCalls(calleesUrl: string, number: string, audio: Int16Array, seconds: number | null, calls: number, record: string | undefined): Promise<CallResult[]> {
  const ws = new WebSocket(`${calleesUrl}?number=${encodeURIComponent(number)}`, { maxPayload: 64 * 1024 });
  const tell = (message: FromCallee) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };
  const frames = mulawEncode(audio);
  const frameCount = Math.floor(frames.length / SAMPLES_PER_FRAME);
  if (frameCount === 0) throw new Error('--play holds less than 20 ms of audio');
  const streams = new Map<string, SimulatedCall>();
  const results: Promise<CallResult>[] = [];
  let connecting = 0;

  const converse = async (call: SimulatedCall, callUuid: string, index: number): Promise<CallResult> => {
    const startedAt = performance.now();
    let framesSent = 0;
    const hangup = seconds === null ? null : setTimeout(() => tell({ type: 'hangup', callUuid }), seconds * 1000);
    const speaking = call.playMulaw(Infinity, (i) => frames.subarray((i % frameCount) * SAMPLES_PER_FRAME, ((i % frameCount) + 1) * SAMPLES_PER_FRAME), () => framesSent++);
    await call.closed();
    if (hangup) clearTimeout(hangup);
    await speaking;
    streams.delete(call.streamId);
    tell({ type: 'closed', streamId: call.streamId });
    process.stderr.write(`call ${index + 1} ended (${call.closeCode ?? ''} ${call.closeReason})\n`);
    return heard(call, startedAt, framesSent, record && recordFile(record, index, calls));
  };

  const open = async (message: Extract<ToCallee, { type: 'stream' }>) => {
    if (results.length + connecting >= calls) return tell({ type: 'failed', streamId: message.streamId, message: `this tool answers ${calls} call(s) and has them` });
    connecting++;
    const call = new SimulatedCall({ answerUrl: message.answerUrl, from: message.from, to: message.to, accountId: message.accountId, streamId: message.streamId });
    try {
      await call.connect(message.url, message.callUuid, message.extraHeaders, { ...message.headers });
    } catch (err) {
      process.stderr.write(`a call to ${number} could not open its stream: ${(err as Error).message}\n`);
      return tell({ type: 'failed', streamId: message.streamId, message: (err as Error).message });
    } finally {
      connecting--;
    }
    streams.set(message.streamId, call);
    tell({ type: 'connected', streamId: message.streamId });
    process.stderr.write(`call ${results.length + 1} answered: ${message.from} -> ${message.to}\n`);
    results.push(converse(call, message.callUuid, results.length));
  };

  return new Promise<CallResult[]>((resolve, reject) => {
    let done = false;
    const fail = (err: Error) => {
      done = true;
      reject(err);
    };
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        req.destroy();
        fail(new Error(`the Plivo emulator refused --answer ${number}: ${res.statusCode} ${body}`));
      });
    });
    ws.once('error', (err) => fail(new Error(`cannot reach the Plivo emulator at ${calleesUrl}: ${err.message}`)));
    ws.on('close', () => {
      if (!done) fail(new Error('the Plivo emulator closed the registration (npm start stopped?)'));
      for (const call of streams.values()) void call.closeStream();
    });
    ws.on('message', (data: Buffer) => {
      let message: ToCallee;
      try {
        message = JSON.parse(data.toString('utf8')) as ToCallee;
      } catch {
        return fail(new Error('the Plivo emulator sent what is not JSON'));
      }
      if (message.type === 'registered') process.stderr.write(`answering calls to ${message.number} (${calls} call${calls > 1 ? 's' : ''}); place them with POST /v2/sip/call\n`);
      else if (message.type === 'close') void streams.get(message.streamId)?.closeStream();
      else if (message.type === 'stream') {
        open(message)
          .then(() => {
            if (results.length < calls || done) return;
            done = true;
            return Promise.all(results).then((all) => {
              ws.close(1000);
              resolve(all);
            });
          })
          .catch((err: unknown) => fail(err instanceof Error ? err : new Error(String(err))));
      }
    });
  });
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const ms = (value: number) => `${value.toFixed(1)} ms`;

/** The summary of placed calls (`head`: how many, and how fast they were answered) or answered ones; `silence` says why none heard anything. */
function summary(results: readonly CallResult[], head: readonly string[], silence: string): string {
  const ok = results.filter((r) => r.ok);
  const firsts = ok.map((r) => r.firstAudioMs).filter((v): v is number => v !== null);
  const sum = (pick: (r: CallResult) => number) => results.reduce((n, r) => n + pick(r), 0);
  const lines = [
    ...head,
    firsts.length
      ? `first audio    p50 ${ms(percentile(firsts, 50))}, max ${ms(Math.max(...firsts))} after the stream started (${firsts.length} of ${ok.length} calls heard something)`
      : `first audio    none: ${ok.length ? silence : 'no call streamed'}`,
    `frames         ${sum((r) => r.framesSent)} sent, ${sum((r) => r.framesReceived)} received, ${sum((r) => r.lateFrames)} late`,
  ];
  for (const [i, r] of results.entries()) if (r.error) lines.push(`call ${i + 1} failed: ${r.error}`);
  return lines.join('\n');
}

/** Calls listed by id and room in a summary (the API is asked about these alone, unless --echo); more are counted. */
const LISTED_CALLS = 10;

function placedSummary(results: readonly CallResult[], seconds: number): string {
  const answers = results.map((r) => r.answerMs).filter((v) => v > 0);
  const listed = results.slice(0, LISTED_CALLS).flatMap((r, i) => (r.callId ? [`call ${String(i + 1).padEnd(9)} ${r.callId}${r.roomId ? ` in room ${r.roomId}` : ''}`] : []));
  if (results.length > LISTED_CALLS) listed.push(`               ... and ${results.length - LISTED_CALLS} more`);
  const rooms = [...new Set(results.map((r) => r.roomId).filter((id): id is string => Boolean(id)))];
  const where = rooms.length ? `room ${rooms.join(', ')}` : 'the room';
  return summary(
    results,
    [
      `calls          ${results.filter((r) => r.ok).length} of ${results.length} completed (${seconds.toFixed(1)} s of audio each)`,
      ...listed,
      `answer         p50 ${ms(percentile(answers, 50))}, p99 ${ms(percentile(answers, 99))}, max ${ms(Math.max(...answers))}`,
    ],
    `nobody else in ${where} spoke. Join it (the console, or the room protocol), or add --echo: a participant that sends the call's audio back`,
  );
}

function answeredSummary(results: readonly CallResult[], number: string): string {
  const lengths = results.map((r) => r.durationMs / 1000);
  const s = (value: number) => `${value.toFixed(1)} s`;
  return summary(results, [
    `calls          ${results.length} answered (calls to ${number})`,
    `length         p50 ${s(percentile(lengths, 50))}, max ${s(Math.max(...lengths))} from the stream's start to its close`,
  ], 'nobody in the room spoke');
}

/**
 * The local stack's state (npm start's on DATA_DIR). When there is none: an error if `needed` names what the user must
 * give instead, else null.
 */
function localStack(needed: string): LocalStackInfo;
function localStack(needed: null): LocalStackInfo | null;
function localStack(needed: string | null): LocalStackInfo | null {
  try {
    return readLocalState(process.env).info;
  } catch (err) {
    if (needed === null) return null;
    throw new Error(`${needed}: ${(err as Error).message}`);
  }
}

function calleesUrl(): string {
  const url = localStack('--answer needs the local stack').calleesUrl;
  if (!url) throw new Error('--answer needs the Plivo emulator of npm start: the stack runs with PLIVO_API_URL set, so calls go elsewhere');
  return url;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'answer-url': { type: 'string' },
      from: { type: 'string', default: '14155550100' },
      to: { type: 'string', default: '14155550199' },
      'auth-token': { type: 'string' },
      play: { type: 'string' },
      record: { type: 'string' },
      seconds: { type: 'string' },
      dtmf: { type: 'string', default: '' },
      calls: { type: 'string', default: '1' },
      answer: { type: 'string' },
      echo: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const calls = Number(values.calls);
  if (!Number.isInteger(calls) || calls < 1 || calls > 1000) throw new Error(`--calls must be 1-1000; got "${values.calls}"`);
  if (!/^[0-9*#A-D]*$/.test(values.dtmf)) throw new Error(`--dtmf takes 0-9 * # A-D; got "${values.dtmf}"`);
  const wav = values.play ? readWav8k(values.play) : null;
  const asked = values.seconds === undefined ? undefined : Number(values.seconds);
  if (asked !== undefined && (!Number.isFinite(asked) || asked <= 0 || asked > 86400)) throw new Error(`--seconds must be a positive number; got "${values.seconds}"`);
  if (values.answer !== undefined) {
    if (!/^\+\d{3,15}$/.test(values.answer)) throw new Error(`--answer takes an E.164 number (+14155550123); got "${values.answer}"`);
    const placing = (['answer-url', 'auth-token', 'dtmf', 'echo'] as const).filter((name) => values[name]);
    if (placing.length > 0) throw new Error(`--answer takes no --${placing.join(', --')}: those are for placing calls`);
    const results = await answerCalls(calleesUrl(), values.answer, wav ?? tone(440, 1, 6000), asked ?? null, calls, values.record);
    process.stdout.write(answeredSummary(results, values.answer) + '\n');
    if (results.some((r) => !r.ok)) process.exitCode = 1;
    return;
  }
  const seconds = asked ?? (wav ? wav.length / 8000 : 5);
  const length = Math.round(seconds * 8000);
  const audio = new Int16Array(length);
  const source = wav ?? tone(440, seconds, 6000);
  for (let i = 0; i < length && source.length > 0; i += source.length) audio.set(source.subarray(0, length - i), i);

  const given = values['answer-url'];
  const stack = values.echo ? localStack('--echo needs the local stack') : given === undefined ? localStack('--answer-url is required') : localStack(null);
  const answerUrl = given ?? (stack as LocalStackInfo).connector.webhookUrl;
  // The API beside the Answer URL, for each call's room and fate: the local stack's demo token there, else VIDEOSDK_TOKEN.
  const apiUrl = new URL(answerUrl).origin;
  const onLocalStack = stack !== null && new URL(stack.apiUrl).origin === apiUrl;
  if (values.echo && !onLocalStack) throw new Error(`--echo joins rooms of the local stack at ${stack?.apiUrl ?? ''}: --answer-url must be one of its connectors`);
  const token = onLocalStack ? stack.token : process.env.VIDEOSDK_TOKEN?.trim();
  const api = token ? new ConnectorApi(apiUrl, token, values.echo ? (stack as LocalStackInfo).mediaUrl : null) : null;
  const progress = { sent: 0 };
  const started = performance.now();
  const ticker =
    seconds >= 5
      ? setInterval(() => {
          const elapsed = (performance.now() - started) / 1000;
          process.stderr.write(`\r  ${elapsed.toFixed(0)}/${seconds.toFixed(0)} s, ${calls} call${calls > 1 ? 's' : ''}, ${progress.sent} frames sent `);
        }, 1000)
      : null;
  const results = await Promise.all(
    Array.from({ length: calls }, (_, i) => {
      const call = new SimulatedCall({ answerUrl, from: values.from, to: values.to, ...(values['auth-token'] && { authToken: values['auth-token'] }) });
      // The API is asked about the calls listed, or all with --echo (which needs each call's room).
      return placeCall(call, audio, values.dtmf, values.record && recordFile(values.record, i, calls), progress, i < LISTED_CALLS || values.echo ? api : null);
    }),
  );
  await api?.close();
  if (ticker) {
    clearInterval(ticker);
    process.stderr.write('\n');
  }
  process.stdout.write(placedSummary(results, seconds) + '\n');
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`call: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
  process.exit(2);
});
