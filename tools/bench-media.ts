import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOM_RATES, type SampleRate } from '../core/rooms';
import { FRAME_MS, samplesPerFrame } from '../ingest-container/src/audio/frame';
import { Resampler } from '../ingest-container/src/audio/resampler';
import { concat, snrDb, tone } from './audio';
import { benchConnector, calibrationMs, cpuMs, machine, quantile, ROOT, round, rssKiB, startStack, writeReport } from './bench-support';
import { inBatches, LoadCall, Pacer, SILENT_PAYLOAD, stampedPayload, TalkPattern, type OnReceive } from './load-calls';
import { SimulatedCall } from './plivo-simulator';
import type { LocalStackInfo } from '../local/stack';

/**
 * `npm run bench:media`: what one media server process costs per call, and what it does to the audio,
 * at N concurrent calls. The load generator (this process) plays Plivo for every call: the audio
 * WebSocket, `start`, then a 20 ms mu-law `media` frame per call at real time, each carrying a sequence
 * number in its first four mu-law bytes (base-127 digits, never 0x7f, so they survive a decode and
 * re-encode). Every `playAudio` that comes back is matched to the moment its frame was sent.
 *
 * Modes:
 * - `pump`: the baseline, a bare `ws` server (tools/bare-pump.ts) that parses each message and echoes its
 *   payload as `playAudio`: the same traffic with no bridge at all.
 * - `duplex`: two-party rooms where both callers talk all the time (each call sends and receives 50
 *   frames a second, like the pump), on one media server.
 * - `conference`: three-party rooms, everyone talking: every listener gets a real mix (decode, sum,
 *   mix-minus, encode). Mixed frames carry no sequence number, so latency is not measured.
 * - `relayed`: as `duplex`, but each room's second call lands on a second media server and is relayed
 *   to the room's owner: the one hop scale-out adds. CPU is summed over both servers.
 * - `tree`: as `duplex`, but every stream goes through `npm start`'s own port (its load balancer), as the
 *   Answer URL says, and CPU and RSS are summed over the whole `npm start` process tree: the API process,
 *   dynalite and every media server. Run with `--media-servers 1` to keep each room on one server.
 *
 * `--record`: every call is recorded as a routing rule's `recording: true` records it (the real path: each room is an
 * inbound rule's static room, reached by its own called number, not `?roomId`), a call recording per call and a room
 * recording per room, uploaded every RECORDING_SEGMENT_SECONDS (20 s; mu-law at 8 kHz) to `npm start`'s S3 emulator.
 * s3rver runs in `npm start`'s API process, not in a media server, so the media server's CPU figure holds none of the
 * emulator's work (`tree` rows do).
 *
 * `--pin`: the measured servers (the pump, every media server) on CPU 0 and this load generator with the rest of
 * `npm start`'s tree (the API and its S3 emulator, dynalite) on CPU 1 (`taskset`, every thread of each process), so
 * the generator's own work does not delay the servers': the figures then show the server's latency and loss, not the
 * shared cores'. Needs two CPUs. (`tree` rows then span both CPUs.)
 *
 * `--talk ON,OFF` (seconds, such as `1.5,0.5`): each call alternates ON seconds of its stamped tone with OFF seconds of
 * digital silence (0xff, unstamped), each from its own random phase, as callers taking turns do; the jitter buffers
 * then meet quiet frames they may skip. Frames of silence are not counted as sent: loss and latency are over stamped
 * frames only, and pacing jitter leaves out gaps longer than half the pause (the pauses themselves). Without it, every
 * call talks all the time, as in the earlier figures.
 */
type Mode = 'pump' | 'duplex' | 'conference' | 'relayed' | 'tree';

interface Step {
  readonly mode: Mode;
  readonly calls: number;
  readonly seconds: number;
  /** CPU of the server process(es) (`tree`: the whole process tree) per call-second streamed, from /proc. */
  readonly serverCpuMsPerCallSecond: number;
  readonly projectedCallsPerCore: number;
  /** Server RSS growth over its idle RSS, per call, at the end of the talking. */
  readonly rssKiBPerCall: number;
  readonly framesSent: number;
  readonly framesReceived: number;
  /** Stamped frames that never came back (not measured in `conference`). */
  readonly framesLost: number | null;
  /** Matched frames later than `LATE_MS`. */
  readonly lateFrames: number | null;
  readonly latencyP50Ms: number | null;
  readonly latencyP99Ms: number | null;
  readonly latencyMaxMs: number | null;
  /** |gap between consecutive `playAudio` on a call - 20 ms|. */
  readonly pacingJitterP50Ms: number;
  readonly pacingJitterP99Ms: number;
  /**
   * Server-side, from the `plivo stream closed` log lines: output frames dropped on backed-up sockets,
   * input frames the jitter buffers dropped (over capacity, or trimmed to bring latency back down), the quiet ones
   * they skipped to bring it down unheard, and their mid-call underruns.
   */
  readonly serverDroppedOut: number | null;
  readonly serverTrimmedIn: number | null;
  readonly serverSkippedQuietIn: number | null;
  readonly serverUnderruns: number | null;
  /** This process's CPU share while talking, to show when the load generator itself is the limit. */
  readonly loadGeneratorCpuPercent: number;
  /** `--record`: recordings the media servers started, and those that ended `completed` (logs); null when not recording. */
  readonly recordingsStarted: number | null;
  readonly recordingsCompleted: number | null;
}

/** What the bench reads of a `plivo stream closed` log line. */
interface ClosedStream {
  readonly droppedOut: number;
  readonly droppedIn: number;
  readonly skippedQuietIn: number;
  readonly underruns: number;
}

/** A frame heard more than this after it was sent is late: past a phone's own playout buffer. */
const LATE_MS = 60;

/** The server's `plivo stream closed` log lines of the current step. */
let closedStreams: ClosedStream[] = [];
/** Audio a relaying server dropped for a lagging reader, from its `relayed connection closed` lines. */
let relayDropped = 0;
/** The current step's `recording started` lines, its `recording-started` events recorded, and its `recording ended` lines by status. */
let recordingsStarted = 0;
let recordingsAnnounced = 0;
let recordingsEnded: string[] = [];
function onLogLine(line: string): void {
  try {
    if (line.includes('"plivo stream closed"')) closedStreams.push(JSON.parse(line) as ClosedStream);
    else if (line.includes('"relayed connection closed"')) relayDropped += (JSON.parse(line) as { dropped?: number }).dropped ?? 0;
    else if (line.includes('"recording started"')) recordingsStarted++;
    else if (line.includes('"recording event"') && line.includes('"recording-started"')) recordingsAnnounced++;
    else if (line.includes('"recording ended"')) recordingsEnded.push((JSON.parse(line) as { status?: string }).status ?? 'unknown');
  } catch {
    // not a JSON log line
  }
}

interface Target {
  /** Opens call `index` (of its room `room`) and sends `start`. */
  open(index: number, room: number, record: OnReceive): Promise<LoadCall>;
  /** The server processes whose CPU and RSS are reported. */
  readonly pids: readonly number[];
  /** Whether its calls are recorded (`--record`). */
  readonly recorded: boolean;
  /** Removes what the target made for its step (`--record`'s rules). */
  close(): Promise<void>;
}

const perRoomOf = (mode: Mode): number => (mode === 'conference' ? 3 : mode === 'pump' ? 1 : 2);

async function step(target: Target, mode: Mode, calls: number, seconds: number, talk: TalkPattern | null): Promise<Step> {
  const perRoom = perRoomOf(mode);
  const frames = seconds * (1000 / FRAME_MS);
  const sentAt = new Float64Array(calls * frames + 1);
  let nextSequence = 1;
  const latencies: number[] = [];
  const gaps: number[] = [];
  let received = 0;
  const record = (sequence: number, at: number, gapMs: number) => {
    received++;
    if (gapMs > 0 && (talk === null || gapMs < (talk.offSeconds * 1000) / 2)) gaps.push(Math.abs(gapMs - FRAME_MS));
    const sent = sequence > 0 && sequence < sentAt.length ? (sentAt[sequence] as number) : 0;
    if (sent > 0) {
      latencies.push(at - sent);
      sentAt[sequence] = -1; // matched: a second copy would be a duplicate, not a second match
    }
  };
  const rss = () => target.pids.reduce((sum, pid) => sum + rssKiB(pid), 0);
  const rssIdle = rss();
  recordingsStarted = 0;
  recordingsAnnounced = 0;
  recordingsEnded = [];
  const opened = await inBatches(Array.from({ length: calls }, (_, i) => i), 32, (i) => target.open(i, Math.floor(i / perRoom), record));
  // --record: every recording's set-up (its record's writes, its `recording-started` event: a few DynamoDB requests
  // once per recording, as a call's own set-up is once per call) is over before the window opens; the window measures
  // talking, recorded or not.
  const recordings = calls + Math.ceil(calls / perRoom);
  for (let waited = 0; target.recorded && (recordingsStarted < recordings || recordingsAnnounced < recordingsStarted) && waited < 120; waited++) await new Promise((resolve) => setTimeout(resolve, 250));
  await new Promise((resolve) => setTimeout(resolve, 500));
  received = 0;
  latencies.length = 0;
  gaps.length = 0;
  const cpu = () => target.pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
  const cpuBefore = cpu();
  const selfBefore = process.cpuUsage();
  const started = performance.now();
  let rssPeak = 0;
  const progress = setInterval(() => {
    rssPeak = Math.max(rssPeak, rss());
    process.stderr.write(`  ${Math.round((performance.now() - started) / 1000)} s: sent ${nextSequence - 1}, received ${received}\n`);
  }, 5000);
  const pacer = new Pacer((call, frame) => {
    if (talk && !talk.talking(call, frame)) return SILENT_PAYLOAD;
    const sequence = nextSequence++;
    sentAt[sequence] = performance.now();
    return stampedPayload(frame, sequence);
  });
  for (const call of opened) pacer.add(call);
  await pacer.run(frames);
  const elapsed = (performance.now() - started) / 1000;
  const cpuUsed = cpu() - cpuBefore;
  const self = process.cpuUsage(selfBefore);
  clearInterval(progress);
  rssPeak = Math.max(rssPeak, rss());
  // The last frames' replies are still on their way.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const framesSent = nextSequence - 1;
  const receivedWhileTalking = received;
  const matched = latencies.length;
  closedStreams = [];
  relayDropped = 0;
  await inBatches(opened, 64, (call) => call.stop());
  await new Promise((resolve) => setTimeout(resolve, 1000));
  // Recordings end as their taps come off, once their last segments are up and assembled.
  for (let waited = 0; target.recorded && recordingsEnded.length < recordingsStarted && waited < 30; waited++) await new Promise((resolve) => setTimeout(resolve, 1000));
  latencies.sort((a, b) => a - b);
  gaps.sort((a, b) => a - b);
  const stamped = mode !== 'conference';
  const cpuPerCallSecond = cpuUsed / (calls * elapsed);
  // Only when every stream's closing line arrived: a partial count would pass for a whole one.
  const fromLogs = mode !== 'pump' && closedStreams.length === calls;
  return {
    mode,
    calls,
    seconds,
    serverCpuMsPerCallSecond: round(cpuPerCallSecond),
    projectedCallsPerCore: Math.round(1000 / cpuPerCallSecond),
    rssKiBPerCall: round((rssPeak - rssIdle) / calls),
    framesSent,
    framesReceived: receivedWhileTalking,
    framesLost: stamped ? framesSent - matched : null,
    lateFrames: stamped ? latencies.filter((ms) => ms > LATE_MS).length : null,
    latencyP50Ms: stamped ? round(quantile(latencies, 0.5)) : null,
    latencyP99Ms: stamped ? round(quantile(latencies, 0.99)) : null,
    latencyMaxMs: stamped ? round(latencies[latencies.length - 1] ?? NaN) : null,
    pacingJitterP50Ms: round(quantile(gaps, 0.5)),
    pacingJitterP99Ms: round(quantile(gaps, 0.99)),
    serverDroppedOut: fromLogs ? closedStreams.reduce((n, s) => n + s.droppedOut, 0) + relayDropped : null,
    serverTrimmedIn: fromLogs ? closedStreams.reduce((n, s) => n + s.droppedIn, 0) : null,
    serverSkippedQuietIn: fromLogs ? closedStreams.reduce((n, s) => n + s.skippedQuietIn, 0) : null,
    // Every talker's buffer also runs dry once when its stream stops: not a mid-call underrun.
    serverUnderruns: fromLogs ? Math.max(0, closedStreams.reduce((n, s) => n + s.underruns, 0) - closedStreams.length) : null,
    loadGeneratorCpuPercent: Math.round((self.user + self.system) / 1e4 / elapsed),
    recordingsStarted: target.recorded ? recordingsStarted : null,
    recordingsCompleted: target.recorded ? recordingsEnded.filter((status) => status === 'completed').length : null,
  };
}

/**
 * `count` inbound rules with `recording: true`, each routing its own called number to its own static room
 * `bench-<run>-<i>`: the numbers, and how to delete the rules again (a tenant holds at most 500).
 */
async function recordingRules(info: LocalStackInfo, run: string, count: number): Promise<{ numbers: string[]; remove(): Promise<void> }> {
  const api = (method: string, path: string, body?: object) =>
    fetch(info.apiUrl + path, { method, headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  const created = await inBatches(Array.from({ length: count }, (_, i) => i), 16, async (i) => {
    const number = `1555${String(nextNumber++).padStart(7, '0')}`;
    const res = await api('POST', '/v2/sip/routing-rule', { name: `bench ${run} ${i}`, type: 'inbound', phoneNumbers: [`+${number}`], room: { type: 'static', id: `bench-${run}-${i}` }, recording: true });
    if (res.status !== 201) throw new Error(`creating a recording rule: ${res.status} ${await res.text()}`);
    return { number, id: ((await res.json()) as { id: string }).id };
  });
  return {
    numbers: created.map((rule) => rule.number),
    remove: async () => {
      await inBatches(created, 16, async (rule) => void (await api('DELETE', `/v2/sip/routing-rule/${rule.id}`)));
    },
  };
}
/** Called numbers of recording rules: each new, as an inbound number is one rule's. */
let nextNumber = 0;

/** SNR (dB) of a 1 kHz tone through `from -> to`, after the filter's first 10 frames. */
function resamplerSnr(from: SampleRate, to: SampleRate): number {
  const resampler = new Resampler(from, to);
  const input = tone(1000, 1.2, 16000, from);
  const n = samplesPerFrame(from);
  const out = concat(Array.from({ length: input.length / n }, (_, f) => resampler.process(input.subarray(f * n, (f + 1) * n))).slice(10));
  return round(snrDb(out, to, 1000));
}

/** Pins every thread of process `pid` to CPU `cpu`. */
function pin(pid: number, cpu: number): void {
  execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', String(cpu), String(pid)], { stdio: 'ignore' });
}

async function startPump(): Promise<{ port: number; pid: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/bare-pump.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString()) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`bare pump exited with ${code}`)));
  });
  return { port, pid: child.pid as number, child };
}

const TABLE_HEADER = [
  '| mode | calls | server CPU ms per call-second | projected calls per core | RSS KiB per call | frames sent | frames received | lost | late (>60 ms) | latency p50 ms | p99 ms | max ms | pacing jitter p50 ms | p99 ms | server dropped out | trimmed in | skipped quiet in | underruns | generator CPU % |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
];

const cell = (v: number | null) => (v === null ? 'n/a' : String(v));
const tableRow = (r: Step) =>
  `| ${r.mode} | ${r.calls} | ${r.serverCpuMsPerCallSecond} | ${r.projectedCallsPerCore} | ${r.rssKiBPerCall} | ${r.framesSent} | ${r.framesReceived} | ${cell(r.framesLost)} | ${cell(r.lateFrames)} | ${cell(r.latencyP50Ms)} | ${cell(r.latencyP99Ms)} | ${cell(r.latencyMaxMs)} | ${r.pacingJitterP50Ms} | ${r.pacingJitterP99Ms} | ${cell(r.serverDroppedOut)} | ${cell(r.serverTrimmedIn)} | ${cell(r.serverSkippedQuietIn)} | ${cell(r.serverUnderruns)} | ${r.loadGeneratorCpuPercent} |`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '100,250,500,1000' },
      seconds: { type: 'string', default: '20' },
      modes: { type: 'string', default: 'pump,duplex,conference,relayed' },
      'relayed-calls': { type: 'string', default: '100' },
      'conference-calls': { type: 'string', default: '99,249' },
      'media-servers': { type: 'string', default: '2' },
      /** Writes the stack's and media servers' CPU profiles (--cpu-prof) into this directory. */
      profile: { type: 'string' },
      pin: { type: 'boolean', default: false },
      record: { type: 'boolean', default: false },
      /** ON,OFF seconds: talk spurts and pauses of digital silence instead of talking all the time. */
      talk: { type: 'string' },
    },
  });
  const list = (s: string) => s.split(',').filter(Boolean).map(Number);
  const seconds = Number(values.seconds);
  const talk = values.talk === undefined ? null : new TalkPattern(...(list(values.talk) as [number, number]));
  const modes = values.modes.split(',') as Mode[];
  const callsFor = (mode: Mode) => list(mode === 'relayed' ? values['relayed-calls'] : mode === 'conference' ? values['conference-calls'] : values.calls);
  const calibration = calibrationMs();
  process.stderr.write(`bench:media CPU calibration (1e8 additions): ${calibration} ms\n`);
  const snr = ROOM_RATES.flatMap((from) => ROOM_RATES.filter((to) => to !== from).map((to) => ({ from, to, snrDb: resamplerSnr(from, to) })));
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-media-'));
  const stack = await startStack(dataDir, { onLogLine, profileDir: values.profile, env: { MEDIA_SERVERS: values['media-servers'], LOG_LEVEL: 'info' } });
  const pump = await startPump();
  if (values.pin) {
    // The measured servers alone on CPU 0; the rest of npm start's tree (the API with its S3 emulator, dynalite) with
    // the generator on CPU 1: call setup and uploads cost the media servers' core nothing.
    for (const pid of stack.pids.tree) pin(pid, stack.pids.media.includes(pid) ? 0 : 1);
    pin(pump.pid, 0);
    pin(process.pid, 1);
  }
  const results: Step[] = [];
  /** The `npm start` tree's CPU with no call (its sweeper, health checks, pollers): `tree` rows include it. */
  let treeIdleCpuMsPerSecond: number | null = null;
  try {
    const answerUrl = await benchConnector(stack.info, 'bench');
    const servers = stack.info.mediaServers;
    const media = async (mode: Mode, calls: number): Promise<Target> => {
      const run = `${mode}-${Date.now()}`;
      const onServer = (index: number) => (mode === 'relayed' && index % 2 === 1 ? 1 : 0);
      // --record: room `room` is a recording rule's, called at its own number; otherwise named by `?roomId`.
      const rules = values.record ? await recordingRules(stack.info, run, Math.ceil(calls / perRoomOf(mode))) : null;
      const numbers = rules?.numbers ?? null;
      return {
        close: () => rules?.remove() ?? Promise.resolve(),
        pids: mode === 'tree' ? stack.pids.tree : mode === 'relayed' ? servers.map((s) => s.pid) : [(servers[0] as { pid: number }).pid],
        recorded: numbers !== null,
        open: async (index, room, record) => {
          const call = new SimulatedCall(numbers ? { answerUrl, to: numbers[room] } : { answerUrl: `${answerUrl}?roomId=bench-${run}-${room}` });
          const answered = await call.answer();
          const url = mode === 'tree' ? answered : answered.replace(/^ws:\/\/[^/]+/, (servers[onServer(index)] as { url: string }).url);
          return LoadCall.open(url, call.callUuid, record);
        },
      };
    };
    const pumpTarget: Target = { pids: [pump.pid], recorded: false, close: () => Promise.resolve(), open: (_i, _room, record) => LoadCall.open(`ws://127.0.0.1:${pump.port}/`, 'bench', record) };
    const warmUp = await media('duplex', 10);
    await step(warmUp, 'duplex', 10, 2, talk);
    await warmUp.close();
    await step(pumpTarget, 'pump', 10, 2, talk);
    if (modes.includes('tree')) {
      const cpu = () => stack.pids.tree.reduce((sum, pid) => sum + cpuMs(pid), 0);
      const before = cpu();
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      treeIdleCpuMsPerSecond = round((cpu() - before) / seconds);
      process.stderr.write(`bench:media npm start's tree idle: ${treeIdleCpuMsPerSecond} ms CPU per second\n`);
    }
    for (const mode of modes) {
      for (const calls of callsFor(mode)) {
        process.stderr.write(`bench:media ${mode}, ${calls} calls for ${seconds} s\n`);
        const target = mode === 'pump' ? pumpTarget : await media(mode, calls);
        const result = await step(target, mode, calls, seconds, talk);
        await target.close();
        results.push(result);
        process.stderr.write(
          `  CPU ${result.serverCpuMsPerCallSecond} ms/call-s (${result.projectedCallsPerCore} calls/core), RSS ${result.rssKiBPerCall} KiB/call, ` +
            `lost ${cell(result.framesLost)}, late ${cell(result.lateFrames)}, p50 ${cell(result.latencyP50Ms)} / p99 ${cell(result.latencyP99Ms)} ms, ` +
            `pacing jitter p99 ${result.pacingJitterP99Ms} ms, generator CPU ${result.loadGeneratorCpuPercent} %` +
            (result.recordingsStarted === null ? '' : `, recordings started ${result.recordingsStarted}, completed ${result.recordingsCompleted}`) +
            '\n',
        );
      }
    }
  } finally {
    pump.child.kill('SIGINT');
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const ratios = results
    .filter((r) => r.mode === 'duplex' || r.mode === 'tree')
    .flatMap((r) => {
      const base = results.find((p) => p.mode === 'pump' && p.calls === r.calls);
      return base ? [{ mode: r.mode, calls: r.calls, cpuRatioToPump: round(r.serverCpuMsPerCallSecond / base.serverCpuMsPerCallSecond) }] : [];
    });
  const command = `npm run bench:media -- --calls ${values.calls} --seconds ${seconds} --modes ${values.modes} --conference-calls ${values['conference-calls']} --relayed-calls ${values['relayed-calls']} --media-servers ${values['media-servers']}${values.pin ? ' --pin' : ''}${values.record ? ' --record' : ''}${values.talk ? ` --talk ${values.talk}` : ''}`;
  writeReport(values.record ? 'media-recorded' : 'media', {
    benchmark: 'media',
    date: new Date().toISOString(),
    machine: machine(calibration),
    command,
    setup:
      `local stack (npm start, MEDIA_SERVERS=${values['media-servers']}) in its own processes; load generator in this process; N simulated Plivo streams, each sending a stamped 20 ms mu-law frame every 20 ms; latency = playAudio arrival - media send on one clock; CPU and RSS of the media server process from /proc (tree: of every process of npm start, streams through its own port); pump = tools/bare-pump.ts; ${values.pin ? 'pinned (taskset): the pump and media servers on CPU 0; the load generator, the API (and its S3 emulator) and dynalite on CPU 1' : 'not pinned: servers and load generator share the CPUs'}${values.record ? "; recorded: every call by its inbound rule's `recording: true` (a call recording per call, a room recording per room), segments uploaded to npm start's s3rver (in its API process, outside the media server's CPU figure)" : ''}`,
    conditions: talk
      ? `talk spurts: each call alternates ${talk.onSeconds} s of its stamped tone with ${talk.offSeconds} s of digital silence (0xff, unstamped), from a random phase; frames of silence are not counted as sent (loss and latency are over stamped frames only); pacing jitter leaves out gaps over half the pause`
      : 'continuous: every call sends its stamped tone all the time',
    pinned: values.pin,
    lateMs: LATE_MS,
    steps: results,
    cpuRatioToPump: ratios,
    treeIdleCpuMsPerSecond,
    resamplerSnr: snr,
  });
  process.stdout.write(
    [
      ...TABLE_HEADER,
      ...results.map(tableRow),
      '',
      `Our CPU as a multiple of the bare pump's: ${ratios.map((r) => `${r.mode} ${r.calls} calls ${r.cpuRatioToPump}x`).join(', ')}`,
      ...(treeIdleCpuMsPerSecond === null ? [] : [`npm start's process tree with no call: ${treeIdleCpuMsPerSecond} ms CPU per second`]),
      `Resampler SNR, 1 kHz tone: ${snr.map((s) => `${s.from / 1000}k->${s.to / 1000}k ${s.snrDb} dB`).join(', ')}; CPU calibration ${calibration} ms`,
    ].join('\n') + '\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:media failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
