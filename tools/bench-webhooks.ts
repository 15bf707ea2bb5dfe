import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { verifyVideosdkSignature } from '../client/src/webhooks';
import { calibrationMs, cpuMs, machine, quantile, round, signedAnswer, startStack, writeReport } from './bench-support';

/**
 * `npm run bench:webhooks`: event-to-receiver latency of lifecycle webhooks through the local stack
 * (its own process: publisher, in-process SQS emulator, delivery worker, KMS emulator signing). Each
 * signed Answer URL request routes a call and so emits one `call-started` event; a real HTTP receiver in
 * this process checks every signature and notes when each delivery arrived. Latency is arrival time
 * minus the event's own `timestamp` (one clock: same machine).
 */
const AUTH_TOKEN = 'MABENCHMARKAUTHTOKEN0123456789abcdefghij';

interface Step {
  readonly offeredEventsPerSecond: number;
  readonly events: number;
  readonly delivered: number;
  readonly badSignatures: number;
  readonly deliveredPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** CPU of the stack's process (API, answer, worker, emulators but dynalite) and of dynalite, per event. */
  readonly cpuMsPerEvent: { readonly stack: number; readonly dynalite: number };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rates: { type: 'string', default: '10,25,50,100' }, seconds: { type: 'string', default: '10' } } });
  const rates = values.rates.split(',').map(Number);
  const seconds = Number(values.seconds);
  const calibration = calibrationMs();
  process.stderr.write(`bench:webhooks CPU calibration (1e8 additions): ${calibration} ms\n`);

  let publicKey = '';
  let arrivals: { latencyMs: number; at: number }[] = [];
  let badSignatures = 0;
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = Date.now();
      const body = Buffer.concat(chunks);
      if (!verifyVideosdkSignature(body, req.headers['videosdk-signature'] as string | undefined, publicKey)) badSignatures++;
      const { timestamp } = JSON.parse(body.toString('utf8')) as { timestamp: string };
      arrivals.push({ latencyMs: at - Date.parse(timestamp), at });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));

  const dataDir = mkdtempSync(join(tmpdir(), 'bench-webhooks-'));
  const stack = await startStack(dataDir);
  const results: Step[] = [];
  try {
    const api = async (method: string, path: string, body?: unknown) =>
      (await (
        await fetch(stack.info.apiUrl + path, {
          method,
          headers: { authorization: `Bearer ${stack.info.token}`, 'content-type': 'application/json' },
          ...(body !== undefined && { body: JSON.stringify(body) }),
        })
      ).json()) as { data: Record<string, string>; publicKey: string };
    publicKey = (await api('GET', '/v2/public/rsa-public-key')).publicKey;
    await api('POST', '/v2/sip/webhooks', { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`, events: ['call-started'] });
    const url = (await api('POST', '/v2/connectors', { provider: 'plivo', name: 'bench', defaultRoomId: 'bench-room', plivoAuthToken: AUTH_TOKEN })).data.webhookUrl as string;

    const run = async (rate: number, runSeconds: number): Promise<Step> => {
      arrivals = [];
      badSignatures = 0;
      const total = rate * runSeconds;
      const before = { stack: cpuMs(stack.pids.api), dynalite: cpuMs(stack.pids.dynalite) };
      const started = performance.now();
      const answers: Promise<boolean>[] = [];
      for (let i = 0; i < total; i++) {
        const wait = started + (i * 1000) / rate - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        answers.push(signedAnswer(url, AUTH_TOKEN).catch(() => false));
      }
      const answered = (await Promise.all(answers)).filter(Boolean).length;
      const deadline = Date.now() + 30_000;
      while (arrivals.length < answered && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const latencies = arrivals.map((a) => a.latencyMs).sort((a, b) => a - b);
      const firstAt = Math.min(...arrivals.map((a) => a.at));
      const lastAt = Math.max(...arrivals.map((a) => a.at));
      return {
        offeredEventsPerSecond: rate,
        events: answered,
        delivered: arrivals.length,
        badSignatures,
        deliveredPerSecond: round(arrivals.length / Math.max(0.001, (lastAt - firstAt) / 1000)),
        p50Ms: round(quantile(latencies, 0.5)),
        p99Ms: round(quantile(latencies, 0.99)),
        maxMs: round(latencies[latencies.length - 1] ?? NaN),
        cpuMsPerEvent: {
          stack: round((cpuMs(stack.pids.api) - before.stack) / Math.max(1, answered)),
          dynalite: round((cpuMs(stack.pids.dynalite) - before.dynalite) / Math.max(1, answered)),
        },
      };
    };

    await run(10, 2); // warm-up: JIT, connections, the signing key
    for (const rate of rates) {
      process.stderr.write(`bench:webhooks ${rate} events/s for ${seconds} s ... `);
      const result = await run(rate, seconds);
      results.push(result);
      process.stderr.write(`delivered ${result.delivered}/${result.events}, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms\n`);
    }
  } finally {
    await stack.stop();
    receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const report = {
    benchmark: 'webhooks',
    date: new Date().toISOString(),
    machine: machine(calibration),
    command: `npm run bench:webhooks -- --rates ${values.rates} --seconds ${seconds}`,
    setup:
      'local stack (npm start) in its own process: each V3-signed Answer URL POST emits call-started; publisher writes the delivery and queues it on the in-process SQS emulator; the worker long-polls (4 pollers), signs with the KMS emulator and POSTs to a receiver in the benchmark process that verifies each signature',
    steps: results,
  };
  writeReport('webhooks', report);
  process.stdout.write(
    [
      '| offered events/s | events | delivered | bad signatures | delivered/s | p50 ms | p99 ms | max ms | CPU ms/event: stack | dynalite |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...results.map(
        (r) =>
          `| ${r.offeredEventsPerSecond} | ${r.events} | ${r.delivered} | ${r.badSignatures} | ${r.deliveredPerSecond} | ${r.p50Ms} | ${r.p99Ms} | ${r.maxMs} | ${r.cpuMsPerEvent.stack} | ${r.cpuMsPerEvent.dynalite} |`,
      ),
      '',
      `CPU calibration ${calibration} ms`,
    ].join('\n') + '\n',
  );
  if (results.some((r) => r.delivered < r.events || r.badSignatures > 0)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:webhooks failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
