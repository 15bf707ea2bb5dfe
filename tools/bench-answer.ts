import { randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createLogger } from '../core/log';
import { answerDependencies, createAnswerHandler } from '../lambdas/answer/app';
import { HTTP_FUNCTIONS } from '../lambdas/routes';
import { localControlPlaneConfig, localControlPlaneEnv } from '../local/config';
import type { LocalStackInfo } from '../local/stack';
import { answerRequest, calibrationMs, cpuMs, machine, quantile, round, signedAnswer, startStack, writeReport, type StackPids } from './bench-support';

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

/** The Answer URL's handler alone, called in this process as a Lambda instance would: one request at a time. */
interface HandlerStep {
  readonly answers: number;
  /** This process's CPU per answer: the handler, its SDK calls over loopback and its log lines (to /dev/null). */
  readonly cpuMsPerAnswer: number;
  readonly wallMsPerAnswer: number;
}

/**
 * `answers` signed Answer URL events through the answer Lambda's handler, built as `npm start` builds it but in this
 * process, against the stack's dynalite and KMS emulator: what carries over to Lambda, without the gateway stand-in,
 * Node's HTTP server or queueing behind other requests. The events are built before the clock starts.
 */
async function handlerStep(info: LocalStackInfo, url: string, answers: number): Promise<HandlerStep> {
  // No webhook is registered, so nothing is queued: the queue URLs are never called.
  const env = localControlPlaneEnv({}, info.aws, { queueUrl: `${info.aws.sqsEndpoint}/queue/unused`, deadLetterQueueUrl: `${info.aws.sqsEndpoint}/queue/unused-dlq` }, info.apiUrl);
  const logs = openSync('/dev/null', 'w');
  try {
    const handler = createAnswerHandler(answerDependencies(localControlPlaneConfig(env), createLogger('info', { service: 'answer' }, (line) => void writeSync(logs, line + '\n'))));
    const { pathname, host } = new URL(url);
    const [routeKey] = HTTP_FUNCTIONS.answer.routes;
    const event = (): APIGatewayProxyEventV2 => {
      const { body, headers } = answerRequest(url, AUTH_TOKEN);
      const now = new Date();
      return {
        version: '2.0',
        routeKey,
        rawPath: pathname,
        rawQueryString: '',
        headers: { host, ...headers },
        requestContext: {
          accountId: 'local',
          apiId: 'local',
          domainName: 'localhost',
          domainPrefix: 'localhost',
          http: { method: 'POST', path: pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench:answer' },
          requestId: randomUUID(),
          routeKey,
          stage: '$default',
          time: now.toISOString(),
          timeEpoch: now.getTime(),
        },
        body,
        isBase64Encoded: false,
      };
    };
    const run = async (n: number): Promise<HandlerStep> => {
      const events = Array.from({ length: n }, event);
      const before = process.cpuUsage();
      const started = performance.now();
      for (const e of events) {
        const result = await handler(e);
        if (result.statusCode !== 200 || !result.body?.includes('<Stream')) throw new Error(`the handler answered ${result.statusCode}: ${result.body}`);
      }
      const used = process.cpuUsage(before);
      return { answers: n, cpuMsPerAnswer: round((used.user + used.system) / 1000 / n), wallMsPerAnswer: round((performance.now() - started) / n) };
    };
    await run(Math.min(300, answers)); // warm-up: JIT, connections, the token's decryption
    return await run(answers);
  } finally {
    closeSync(logs);
  }
}

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
      /** Sequential answers through the handler in this process, after the rates (0: none). */
      'handler-answers': { type: 'string', default: '2000' },
    },
  });
  const rates = values.rates.split(',').map(Number);
  const handlerAnswers = Number(values['handler-answers']);
  if (!Number.isInteger(handlerAnswers) || handlerAnswers < 0) throw new Error(`--handler-answers takes a whole number of answers (0: none), not ${values['handler-answers']}`);
  const seconds = Number(values.seconds);
  const calibration = calibrationMs();
  process.stderr.write(`bench:answer CPU calibration (1e8 additions): ${calibration} ms\n`);
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-answer-'));
  const stack = await startStack(dataDir, { profileDir: values.profile });
  const results: Step[] = [];
  let handler: HandlerStep | null = null;
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
    if (handlerAnswers > 0) {
      process.stderr.write(`bench:answer ${handlerAnswers} answers through the handler in this process ... `);
      handler = await handlerStep(stack.info, url, handlerAnswers);
      process.stderr.write(`CPU ${handler.cpuMsPerAnswer} ms/answer, ${handler.wallMsPerAnswer} ms each\n`);
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
    command: `npm run bench:answer -- --rates ${values.rates} --seconds ${seconds} --handler-answers ${values['handler-answers']}`,
    setup: 'local stack (npm start: dynalite + KMS emulator + API Gateway stand-in) in its own process; V3-signed POSTs, 10 non-matching rules, unique CallUUIDs',
    steps: results,
    /** The handler alone, one answer at a time (`handlerStep`): the figure that carries over to Lambda. */
    handler,
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
      ...(handler ? [`The handler alone, ${handler.answers} answers one at a time in the bench's process: ${handler.cpuMsPerAnswer} ms CPU, ${handler.wallMsPerAnswer} ms each`] : []),
    ].join('\n') + '\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:answer failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
