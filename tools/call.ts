import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WaveFile } from 'wavefile';
import { FRAME_MS } from '../ingest-container/src/audio/frame';
import { mulawDecode } from '../ingest-container/src/audio/mulaw';
import { loadLocalConfig } from '../local/config';
import { STATE_FILE, type LocalStackInfo } from '../local/stack';
import { decodeWav, tone, WavError } from './audio';
import { SimulatedCall } from './plivo-simulator';

const USAGE = `Places simulated Plivo calls: a signed Answer URL POST, the <Stream> XML, the audio WebSocket
(start, real-time 20 ms mu-law frames, DTMF, stop), then the Event=Hangup POST.

  npm run call -- [--answer-url URL] [--from E164] [--to E164] [--auth-token T]
                  [--play in.wav] [--record out.wav] [--seconds N] [--dtmf 12#] [--calls N]

  --answer-url   the connector's webhook URL (default: the local stack's demo connector)
  --from, --to   the caller and the called number (default 14155550100, 14155550199: Plivo's form, no +)
  --auth-token   the connector's Plivo auth token: requests and the stream are V3-signed with it
  --play         a WAV file (any rate, depth and channel count) to speak; default a 440 Hz tone
  --record       write what the call heard to this WAV (8 kHz, 16-bit); with --calls N, one file per call
  --seconds      how long each call streams (default: the WAV's length, else 5)
  --dtmf         digits to press, one every 250 ms from the first second
  --calls        how many calls to place at once (default 1)

Prints a summary: answer latency, time to first audio back, frames sent and received, late frames
(received 30-200 ms after the previous one; longer gaps are silence). Exits 1 if any call failed.`;

const SAMPLES_PER_FRAME = 160;
/** Gaps between received frames in this range are late frames; longer ones are the room being silent. */
const LATE_MS = [30, 200] as const;

interface CallResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly answerMs: number;
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

async function placeCall(call: SimulatedCall, audio: Int16Array, dtmf: string, record: string | undefined, progress: { sent: number }): Promise<CallResult> {
  let framesSent = 0;
  try {
    await call.start();
    const startedAt = performance.now();
    const presses = [...dtmf].map((digit, i) => setTimeout(() => call.sendDtmf(digit), 1000 + i * 250));
    await call.play(audio, () => {
      framesSent++;
      progress.sent++;
    });
    presses.forEach(clearTimeout);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await call.hangup();
    if (record) writeWav(record, recording(call, startedAt));
    const first = call.received[0];
    const closedByServer = call.closeCode !== null && call.closeCode !== 1000 && call.closeCode !== 1005;
    return {
      ok: !closedByServer,
      ...(closedByServer && { error: `the connector closed the stream: ${call.closeCode} ${call.closeReason}` }),
      answerMs: call.answerMs,
      firstAudioMs: first ? first.at - startedAt : null,
      framesSent,
      framesReceived: call.received.length,
      lateFrames: lateFrames(call),
    };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err), answerMs: call.answerMs, firstAudioMs: null, framesSent, framesReceived: call.received.length, lateFrames: 0 };
  }
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};
const ms = (value: number) => `${value.toFixed(1)} ms`;

function summary(results: readonly CallResult[], seconds: number): string {
  const ok = results.filter((r) => r.ok);
  const answers = results.map((r) => r.answerMs).filter((v) => v > 0);
  const firsts = ok.map((r) => r.firstAudioMs).filter((v): v is number => v !== null);
  const sum = (pick: (r: CallResult) => number) => results.reduce((n, r) => n + pick(r), 0);
  const lines = [
    `calls          ${ok.length} of ${results.length} completed (${seconds.toFixed(1)} s of audio each)`,
    `answer         p50 ${ms(percentile(answers, 50))}, p99 ${ms(percentile(answers, 99))}, max ${ms(Math.max(...answers))}`,
    firsts.length
      ? `first audio    p50 ${ms(percentile(firsts, 50))}, max ${ms(Math.max(...firsts))} after the stream started (${firsts.length} of ${ok.length} calls heard something)`
      : 'first audio    none: nobody else in the room spoke',
    `frames         ${sum((r) => r.framesSent)} sent, ${sum((r) => r.framesReceived)} received, ${sum((r) => r.lateFrames)} late`,
  ];
  for (const [i, r] of results.entries()) if (r.error) lines.push(`call ${i + 1} failed: ${r.error}`);
  return lines.join('\n');
}

function defaultAnswerUrl(): string {
  const file = join(loadLocalConfig(process.env).dataDir, STATE_FILE);
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as LocalStackInfo).connector.webhookUrl;
  } catch {
    throw new Error(`--answer-url is required (no local stack state in ${file}: is npm start running?)`);
  }
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
  const seconds = values.seconds !== undefined ? Number(values.seconds) : wav ? wav.length / 8000 : 5;
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 86400) throw new Error(`--seconds must be a positive number; got "${values.seconds}"`);
  const length = Math.round(seconds * 8000);
  const audio = new Int16Array(length);
  const source = wav ?? tone(440, seconds, 6000);
  for (let i = 0; i < length && source.length > 0; i += source.length) audio.set(source.subarray(0, length - i), i);

  const answerUrl = values['answer-url'] ?? defaultAnswerUrl();
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
      return placeCall(call, audio, values.dtmf, values.record && recordFile(values.record, i, calls), progress);
    }),
  );
  if (ticker) {
    clearInterval(ticker);
    process.stderr.write('\n');
  }
  process.stdout.write(summary(results, seconds) + '\n');
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`call: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
  process.exit(2);
});
