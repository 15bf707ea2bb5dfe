import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchConnector, calibrationMs, cpuMs, machine, round, rssKiB, startStack, writeReport } from './bench-support';
import { LoadCall, Pacer, stampedPayload } from './load-calls';
import { SimulatedCall } from './plivo-simulator';

/**
 * `npm run soak -- --minutes M --calls N`: N calls streaming at all times for M minutes against `npm start`'s
 * stack (its own processes), churned: calls come in two-party rooms that each last a random 0.5-1.5x
 * `--call-seconds`, and every room that ends is replaced at once by a new one (Answer URL, claim, stream,
 * room, hangup). Every `--sample-seconds` it records the media server's and the API process's RSS and CPU;
 * after the warm-up (the first fifth of the run, at least a minute) it reports their drift (a least-squares
 * slope per minute, and the last samples against the first), and every error it saw.
 */
interface Sample {
  readonly atSeconds: number;
  readonly liveCalls: number;
  readonly mediaRssKiB: number;
  readonly apiRssKiB: number;
  readonly dynamoRssKiB: number;
  /** CPU milliseconds per call-second since the previous sample. */
  readonly mediaCpuMsPerCallSecond: number;
  readonly apiCpuMsPerSecond: number;
}

/** Least-squares slope of y over x. */
function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxy / sxx;
}

const mean = (values: readonly number[]) => values.reduce((s, v) => s + v, 0) / values.length;

/** Drift of one series after the warm-up: per minute (slope) and last third against the first. */
function drift(samples: readonly Sample[], value: (s: Sample) => number) {
  const third = Math.max(1, Math.floor(samples.length / 3));
  const first = mean(samples.slice(0, third).map(value));
  const last = mean(samples.slice(-third).map(value));
  return {
    perMinute: round(slope(samples.map((s) => [s.atSeconds / 60, value(s)] as const))),
    firstThird: round(first),
    lastThird: round(last),
    changePercent: round(((last - first) / first) * 100),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      calls: { type: 'string', default: '100' },
      'call-seconds': { type: 'string', default: '30' },
      'sample-seconds': { type: 'string', default: '10' },
    },
  });
  const minutes = Number(values.minutes);
  const pairs = Math.max(1, Math.floor(Number(values.calls) / 2));
  const callSeconds = Number(values['call-seconds']);
  const sampleSeconds = Number(values['sample-seconds']);
  if (!(minutes > 0) || !(pairs > 0) || !(callSeconds > 0) || !(sampleSeconds > 0)) throw new Error('--minutes, --calls, --call-seconds and --sample-seconds must be positive numbers');
  const calibration = calibrationMs();
  process.stderr.write(`soak: ${pairs * 2} calls for ${minutes} min, rooms lasting ~${callSeconds} s; CPU calibration ${calibration} ms\n`);

  const errors: string[] = [];
  const noteError = (what: string) => {
    if (errors.length < 1000) errors.push(what);
  };
  const dataDir = mkdtempSync(join(tmpdir(), 'soak-'));
  const stack = await startStack(dataDir, {
    env: { MEDIA_SERVERS: '1', LOG_LEVEL: 'warn' },
    onLogLine: (line) => {
      if (line.includes('"level":"error"')) noteError(`server: ${line.slice(0, 300)}`);
    },
  });
  const mediaPid = stack.pids.media[0] as number;
  const pacer = new Pacer((_call, frame) => stampedPayload(frame, 0));
  let framesReceived = 0;
  let roomNames = 0;
  let roomsStarted = 0;
  let roomsEnded = 0;
  let live = 0;
  const samples: Sample[] = [];
  const started = performance.now();
  const endAt = started + minutes * 60_000;
  try {
    const answerUrl = await benchConnector(stack.info, 'soak');
    const openCall = async (room: string): Promise<LoadCall> => {
      const call = new SimulatedCall({ answerUrl: `${answerUrl}?roomId=${room}` });
      return LoadCall.open(await call.answer(), call.callUuid, () => framesReceived++);
    };
    /** One room after another, for the whole run. */
    const churn = async (slot: number) => {
      while (performance.now() < endAt) {
        const room = `soak-${slot}-${roomNames++}`;
        const opened = await Promise.allSettled([openCall(room), openCall(room)]);
        // Both calls or neither: a call whose partner failed to open is hung up, not left streaming uncounted.
        const calls = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        try {
          const failed = opened.find((r) => r.status === 'rejected');
          if (failed) throw failed.reason;
          roomsStarted++;
          for (const call of calls) pacer.add(call);
          live += 2;
          const lasts = callSeconds * (0.5 + Math.random()) * 1000;
          await new Promise((resolve) => setTimeout(resolve, Math.min(lasts, Math.max(0, endAt - performance.now()))));
          for (const call of calls) {
            if (!call.open) noteError(`a call's stream was closed by the server (${call.closeCode}) before it hung up`);
          }
        } catch (err) {
          noteError(`room ${room}: ${err instanceof Error ? err.message : String(err)}`);
          await new Promise((resolve) => setTimeout(resolve, 1000));
        } finally {
          for (const call of calls) pacer.delete(call);
          await Promise.all(calls.map((call) => call.stop()));
          if (calls.length === 2) {
            live -= 2;
            roomsEnded++;
          }
        }
      }
    };
    const sending = pacer.run(null);
    // Rooms start spread over the first few seconds, not all at once.
    const slots = Array.from({ length: pairs }, (_, slot) => new Promise((resolve) => setTimeout(resolve, (slot * 3000) / pairs)).then(() => churn(slot)));
    let last = { at: performance.now(), media: cpuMs(mediaPid), api: cpuMs(stack.pids.api) };
    const sampler = setInterval(() => {
      const now = { at: performance.now(), media: cpuMs(mediaPid), api: cpuMs(stack.pids.api) };
      const seconds = (now.at - last.at) / 1000;
      const sample: Sample = {
        atSeconds: round((now.at - started) / 1000),
        liveCalls: live,
        mediaRssKiB: rssKiB(mediaPid),
        apiRssKiB: rssKiB(stack.pids.api),
        dynamoRssKiB: rssKiB(stack.pids.dynalite),
        mediaCpuMsPerCallSecond: round((now.media - last.media) / (Math.max(1, live) * seconds)),
        apiCpuMsPerSecond: round((now.api - last.api) / seconds),
      };
      last = now;
      samples.push(sample);
      process.stderr.write(
        `  ${Math.round(sample.atSeconds)} s: ${live} live calls, rooms ${roomsStarted} started / ${roomsEnded} ended, media RSS ${Math.round(sample.mediaRssKiB / 1024)} MiB, ` +
          `CPU ${sample.mediaCpuMsPerCallSecond} ms/call-s, API RSS ${Math.round(sample.apiRssKiB / 1024)} MiB, errors ${errors.length}\n`,
      );
    }, sampleSeconds * 1000);
    await Promise.all(slots);
    clearInterval(sampler);
    pacer.stop();
    await sending;
  } finally {
    pacer.stop();
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const warmUpSeconds = Math.max(60, (minutes * 60) / 5);
  // After the warm-up, and while all the calls were up (not the wind-down at the end).
  const steady = samples.filter((s) => s.atSeconds >= warmUpSeconds && s.liveCalls >= 0.9 * pairs * 2);
  const report = {
    benchmark: 'soak',
    date: new Date().toISOString(),
    machine: machine(calibration),
    command: `npm run soak -- --minutes ${minutes} --calls ${pairs * 2} --call-seconds ${callSeconds} --sample-seconds ${sampleSeconds}`,
    roomsStarted,
    roomsEnded,
    callsStarted: roomsStarted * 2,
    framesReceived,
    warmUpSeconds,
    drift: {
      mediaRssKiB: drift(steady, (s) => s.mediaRssKiB),
      mediaCpuMsPerCallSecond: drift(steady, (s) => s.mediaCpuMsPerCallSecond),
      apiRssKiB: drift(steady, (s) => s.apiRssKiB),
      dynamoRssKiB: drift(steady, (s) => s.dynamoRssKiB),
    },
    errors,
    samples,
  };
  writeReport('soak', report);
  const row = (name: string, d: ReturnType<typeof drift>) => `| ${name} | ${d.firstThird} | ${d.lastThird} | ${d.changePercent} | ${d.perMinute} |`;
  process.stdout.write(
    [
      `${report.command}: ${report.callsStarted} calls in ${roomsStarted} rooms, ${errors.length} errors; drift after a ${warmUpSeconds} s warm-up (${steady.length} samples):`,
      '',
      '| series | mean, first third | mean, last third | change % | slope per minute |',
      '|---|---|---|---|---|',
      row('media server RSS KiB', report.drift.mediaRssKiB),
      row('media server CPU ms per call-second', report.drift.mediaCpuMsPerCallSecond),
      row('API process RSS KiB', report.drift.apiRssKiB),
      row('dynalite RSS KiB', report.drift.dynamoRssKiB),
      ...errors.slice(0, 20).map((e) => `- error: ${e}`),
    ].join('\n') + '\n',
  );
  if (errors.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`soak failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
