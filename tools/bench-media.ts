import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOM_RATES, type SampleRate } from '../core/rooms';
import { mulawEncode } from '../ingest-container/src/audio/mulaw';
import { Resampler, samplesPerFrame } from '../ingest-container/src/audio/resampler';
import { concat, snrDb, tone } from './audio';
import { calibrationMs, cpuMs, machine, quantile, round, startStack, writeReport } from './bench-support';
import type { LocalStackInfo } from '../local/stack';
import { SimulatedCall } from './plivo-simulator';

/**
 * `npm run bench:media`: the latency the bridge adds, from caller A's frame leaving the simulated Plivo
 * to caller B receiving it as `playAudio`, for N two-party rooms at once, against `npm start`'s stack
 * in its own process. Each frame carries a sequence number in its first four mu-law bytes (base-127
 * digits, never 0x7f, so they survive a decode and re-encode), so every received frame is matched to
 * the moment it was sent. Modes: `forward` (one talker per room: the untouched fast path), `mixed`
 * (both talk at once: decode, mix-minus, encode), and `relayed` (as `forward`, but the listener's stream
 * lands on a second media server and is relayed to the room's: the one hop scale-out adds). The stack runs
 * two media servers; `forward` and `mixed` calls all go to the first. Also prints the resampler's SNR.
 */
interface Step {
  readonly mode: 'forward' | 'mixed' | 'relayed';
  readonly rooms: number;
  readonly calls: number;
  readonly framesSent: number;
  readonly framesMatched: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** CPU of the media server processes per call-second of audio streamed. */
  readonly serverCpuMsPerCallSecond: number;
  /**
   * Jitter-buffer underruns during the calls, from the server's logs as the streams closed: every
   * talker's stream also runs dry once when it stops sending, which is not counted.
   */
  readonly midCallUnderruns: number;
}

/** The server's `plivo stream closed` log lines of the current step. */
let closedStreams: { underruns: number }[] = [];
function onLogLine(line: string): void {
  if (!line.includes('"plivo stream closed"')) return;
  try {
    closedStreams.push(JSON.parse(line) as { underruns: number });
  } catch {
    // not a JSON log line
  }
}

const FRAME = 160;

/** Base-127 digits (0..126): 0x7f decodes to 0 and re-encodes as 0xff, so it is never used. */
function stamp(frame: Uint8Array, sequence: number): void {
  for (let i = 0, rest = sequence; i < 4; i++, rest = Math.floor(rest / 127)) frame[i] = rest % 127;
}

function sequenceOf(frame: Uint8Array): number {
  let sequence = 0;
  for (let i = 3; i >= 0; i--) sequence = sequence * 127 + (frame[i] as number);
  return sequence;
}

async function step(answerUrl: string, mode: Step['mode'], rooms: number, seconds: number, media: LocalStackInfo['mediaServers']): Promise<Step> {
  const sentAt = new Map<number, number>();
  let nextSequence = 1;
  const voice = mulawEncode(tone(700, seconds, 6000));
  const frames = Math.floor(voice.length / FRAME);
  const pairs = Array.from({ length: rooms }, (_, i) => {
    const url = `${answerUrl}?roomId=bench-${mode}-${i}-${Date.now()}`;
    return [new SimulatedCall({ answerUrl: url }), new SimulatedCall({ answerUrl: url })] as const;
  });
  // The room is placed where its first call lands: the listener of a relayed pair lands on the other server.
  const on = async (call: SimulatedCall, server: number) => call.connect((await call.answer()).replace(/^ws:\/\/[^/]+/, (media[server] as { url: string }).url));
  await Promise.all(pairs.map(async ([a, b]) => (await on(a, 0), await on(b, mode === 'relayed' ? 1 : 0))));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const cpu = () => media.reduce((sum, server) => sum + cpuMs(server.pid), 0);
  const cpuBefore = cpu();
  const started = performance.now();
  const talk = (call: SimulatedCall, spread: number) =>
    new Promise((resolve) => setTimeout(resolve, spread)).then(() =>
      call.playMulaw(frames, (i) => {
        const frame = voice.slice(i * FRAME, (i + 1) * FRAME);
        const sequence = nextSequence++;
        stamp(frame, sequence);
        sentAt.set(sequence, performance.now());
        return frame;
      }),
    );
  // Talkers start spread over one frame time, as independent calls would.
  await Promise.all(pairs.flatMap(([a, b], i) => (mode === 'mixed' ? [talk(a, (i * 20) / rooms), talk(b, (i * 20) / rooms)] : [talk(a, (i * 20) / rooms)])));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const elapsed = (performance.now() - started) / 1000;
  const cpuUsed = cpu() - cpuBefore;
  const latencies: number[] = [];
  for (const call of pairs.flat()) {
    for (const frame of call.received) {
      const sent = sentAt.get(sequenceOf(frame.mulaw));
      if (sent !== undefined) latencies.push(frame.at - sent);
    }
  }
  closedStreams = [];
  await Promise.all(pairs.flat().map((call) => call.hangup()));
  await new Promise((resolve) => setTimeout(resolve, 300));
  latencies.sort((a, b) => a - b);
  return {
    mode,
    rooms,
    calls: rooms * 2,
    framesSent: sentAt.size,
    framesMatched: latencies.length,
    p50Ms: round(quantile(latencies, 0.5)),
    p99Ms: round(quantile(latencies, 0.99)),
    maxMs: round(latencies[latencies.length - 1] ?? NaN),
    serverCpuMsPerCallSecond: round(cpuUsed / (rooms * 2 * elapsed)),
    midCallUnderruns: closedStreams.reduce((n, s) => n + s.underruns, 0) - (mode === 'mixed' ? rooms * 2 : rooms),
  };
}

/** SNR (dB) of a 1 kHz tone through `from -> to`, after the filter's first 10 frames. */
function resamplerSnr(from: SampleRate, to: SampleRate): number {
  const resampler = new Resampler(from, to);
  const input = tone(1000, 1.2, 16000, from);
  const n = samplesPerFrame(from);
  const out = concat(Array.from({ length: input.length / n }, (_, f) => resampler.process(input.subarray(f * n, (f + 1) * n))).slice(10));
  return round(snrDb(out, to, 1000));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rooms: { type: 'string', default: '1,10,25,50' },
      seconds: { type: 'string', default: '10' },
      modes: { type: 'string', default: 'forward,mixed,relayed' },
    },
  });
  const roomCounts = values.rooms.split(',').map(Number);
  const modes = values.modes.split(',') as Step['mode'][];
  const seconds = Number(values.seconds);
  const calibration = calibrationMs();
  process.stderr.write(`bench:media CPU calibration (1e8 additions): ${calibration} ms\n`);
  const snr = ROOM_RATES.flatMap((from) => ROOM_RATES.filter((to) => to !== from).map((to) => ({ from, to, snrDb: resamplerSnr(from, to) })));
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-media-'));
  const stack = await startStack(dataDir, { onLogLine, env: { MEDIA_SERVERS: '2' } });
  const results: Step[] = [];
  try {
    const res = await fetch(stack.info.apiUrl + '/v2/connectors', {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.info.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'plivo', name: 'bench', defaultRoomId: 'bench' }),
    });
    const answerUrl = ((await res.json()) as { data: { webhookUrl: string } }).data.webhookUrl;
    await step(answerUrl, 'forward', 1, 2, stack.info.mediaServers); // warm-up
    for (const mode of modes) {
      for (const rooms of roomCounts) {
        process.stderr.write(`bench:media ${mode}, ${rooms} rooms (${rooms * 2} calls) for ${seconds} s ... `);
        const result = await step(answerUrl, mode, rooms, seconds, stack.info.mediaServers);
        results.push(result);
        process.stderr.write(`p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, matched ${result.framesMatched}/${result.framesSent}, server CPU ${result.serverCpuMsPerCallSecond} ms/call-s, mid-call underruns ${result.midCallUnderruns}\n`);
      }
    }
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  writeReport('media', {
    benchmark: 'media',
    date: new Date().toISOString(),
    machine: machine(calibration),
    command: `npm run bench:media -- --rooms ${values.rooms} --seconds ${seconds} --modes ${values.modes}`,
    setup: 'local stack (npm start, MEDIA_SERVERS=2) in its own processes; simulated Plivo calls in pairs, each pair in its own room, frames sent at real time with sequence numbers; latency = playAudio arrival - media send, same clock; CPU = both media server processes',
    steps: results,
    resamplerSnr: snr,
  });
  process.stdout.write(
    [
      '| mode | rooms | calls | frames sent | frames matched | p50 ms | p99 ms | max ms | server CPU ms per call-second | mid-call underruns |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...results.map(
        (r) =>
          `| ${r.mode} | ${r.rooms} | ${r.calls} | ${r.framesSent} | ${r.framesMatched} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} | ${r.serverCpuMsPerCallSecond} | ${r.midCallUnderruns} |`,
      ),
      '',
      `Resampler SNR, 1 kHz tone: ${snr.map((s) => `${s.from / 1000}k->${s.to / 1000}k ${s.snrDb} dB`).join(', ')}; CPU calibration ${calibration} ms`,
    ].join('\n') + '\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:media failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
