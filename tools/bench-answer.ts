import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { LocalStackInfo } from '../local/stack';
import { calibrationMs, cpuMs, machine, quantile, round, signedAnswer, startStack, writeReport, type StackPids } from './bench-support';

/**
 * `npm run bench:answer`: signed Answer URL requests against the local stack (its own process, as
 * `npm start` runs it), open loop at rising rates. Latency is measured from each request's scheduled
 * send time, so a server that falls behind is charged for the queueing it causes.
 */
const AUTH_TOKEN = 'MABENCHMARKAUTHTOKEN0123456789abcdefghij';

interface Step {
  readonly offeredRps: number;
  /** CPU of the API process, of dynalite's process and of this load generator, per answered request. */
  readonly cpuMsPerRequest: { readonly api: number; readonly dynalite: number; readonly loadGenerator: number };
  readonly achievedRps: number;
  readonly requests: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

async function setUp(info: LocalStackInfo): Promise<string> {
  const api = (method: string, path: string, body: unknown) =>
    fetch(info.apiUrl + path, { method, headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  // Ten rules that do not match, so every call walks the whole rule list before the default room.
  for (let i = 0; i < 10; i++) {
    await api('POST', '/v2/sip/routing-rule', { name: `rule ${i}`, type: 'inbound', phoneNumbers: [`+1999555000${i}`], room: { type: 'static', id: `r${i}` } });
  }
  const res = await api('POST', '/v2/connectors', { provider: 'plivo', name: 'bench', defaultRoomId: 'bench-room', plivoAuthToken: AUTH_TOKEN });
  return ((await res.json()) as { data: { webhookUrl: string } }).data.webhookUrl;
}

const answerOnce = (url: string): Promise<boolean> => signedAnswer(url, AUTH_TOKEN);

async function step(url: string, rps: number, seconds: number, pids: StackPids): Promise<Step> {
  const total = rps * seconds;
  const cpuBefore = { api: cpuMs(pids.api), dynalite: cpuMs(pids.dynalite), self: process.cpuUsage() };
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rps;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      answerOnce(url).then(
        (ok) => {
          latencies.push(performance.now() - due);
          if (!ok) errors++;
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - started) / 1000;
  const self = process.cpuUsage(cpuBefore.self);
  const perRequest = (ms: number) => round(ms / total);
  latencies.sort((a, b) => a - b);
  return {
    offeredRps: rps,
    cpuMsPerRequest: {
      api: perRequest(cpuMs(pids.api) - cpuBefore.api),
      dynalite: perRequest(cpuMs(pids.dynalite) - cpuBefore.dynalite),
      loadGenerator: perRequest((self.user + self.system) / 1000),
    },
    achievedRps: round(latencies.length / elapsed),
    requests: total,
    errors,
    p50Ms: round(quantile(latencies, 0.5)),
    p99Ms: round(quantile(latencies, 0.99)),
    maxMs: round(latencies[latencies.length - 1] ?? NaN),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rates: { type: 'string', default: '50,100,200,300,400,600' },
      seconds: { type: 'string', default: '10' },
      /** Writes the server's CPU profile (--cpu-prof) into this directory. */
      profile: { type: 'string' },
    },
  });
  const rates = values.rates.split(',').map(Number);
  const seconds = Number(values.seconds);
  const calibration = calibrationMs();
  process.stderr.write(`bench:answer CPU calibration (1e8 additions): ${calibration} ms\n`);
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-answer-'));
  const stack = await startStack(dataDir, { profileDir: values.profile });
  const results: Step[] = [];
  try {
    const url = await setUp(stack.info);
    await step(url, 50, 2, stack.pids); // warm-up: JIT, connections
    for (const rps of rates) {
      process.stderr.write(`bench:answer ${rps} req/s for ${seconds} s ... `);
      const result = await step(url, rps, seconds, stack.pids);
      results.push(result);
      const cpu = result.cpuMsPerRequest;
      process.stderr.write(`p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, errors ${result.errors}, CPU ms/request api ${cpu.api} dynalite ${cpu.dynalite} generator ${cpu.loadGenerator}\n`);
    }
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const sustainable = results.filter((r) => r.errors === 0 && r.p99Ms <= 15 && r.achievedRps >= 0.95 * r.offeredRps).map((r) => r.offeredRps);
  const report = {
    benchmark: 'answer',
    date: new Date().toISOString(),
    machine: machine(calibration),
    command: `npm run bench:answer -- --rates ${values.rates} --seconds ${seconds}`,
    setup: 'local stack (npm start: dynalite + KMS emulator + API Gateway stand-in) in its own process; V3-signed POSTs, 10 non-matching rules, unique CallUUIDs',
    steps: results,
    maxSustainableRps: sustainable.length ? Math.max(...sustainable) : 0,
  };
  writeReport('answer', report);
  process.stdout.write(
    [
      `| offered req/s | achieved req/s | requests | errors | p50 ms | p99 ms | max ms | CPU ms/req: API | dynalite | load generator |`,
      `|---|---|---|---|---|---|---|---|---|---|`,
      ...results.map(
        (r) =>
          `| ${r.offeredRps} | ${r.achievedRps} | ${r.requests} | ${r.errors} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} | ${r.cpuMsPerRequest.api} | ${r.cpuMsPerRequest.dynalite} | ${r.cpuMsPerRequest.loadGenerator} |`,
      ),
      '',
      `Max sustainable rate (no errors, p99 <= 15 ms, >= 95% achieved): ${report.maxSustainableRps} req/s; CPU calibration ${calibration} ms`,
    ].join('\n') + '\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:answer failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
