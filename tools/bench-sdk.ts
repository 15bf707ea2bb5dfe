import { GetItemCommand, PutItemCommand, QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { dynamoClient } from '../core/aws';
import { ensureControlTable, startDynalite } from '../local/aws';
import { calibrationMs, cpuMs, quantile, round } from './bench-support';

/**
 * `npm run bench:sdk`: the CPU one DynamoDB request costs the process that sends it, through `dynamoClient()`
 * (core/aws.ts) against dynalite in its own process, as `npm start` runs it; and what each piece of the SDK's
 * per-request work costs, measured by taking it away. The variants other than `sdk` are measurements, not
 * configurations to ship: each changes what is sent, or when a request gives up.
 *
 * Each variant runs in a child process of its own (V8 then never sees two shapes of client), sends `--warm-up` and then
 * `--requests` sequential GetItem, PutItem and Query requests; the children take turns, `--rounds` times, and the table
 * gives each variant's median and range. CPU is `process.cpuUsage()` (every thread, user + system) per request, and
 * the main thread's share of it (/proc/thread-self, 10 ms ticks); the rest is V8's helper threads (GC marking,
 * compilation).
 */
const TABLE = 'bench-sdk';
const PARTITION = { S: 'TENANT#bench' };
/** Twenty items of about 200 bytes, the size of a call record; the Query reads three, as the rules query reads a few. */
const sortKey = (i: number) => ({ S: `CALL#${String(i % 20).padStart(6, '0')}` });
const callRecord = (i: number) => ({
  pk: PARTITION,
  sk: sortKey(i),
  callUuid: { S: '5f1c7e2a-9a55-4c1e-8a7b-1f3a0e9d2c11' },
  from: { S: '+14155550100' },
  to: { S: '+14155550199' },
  room: { S: 'support' },
  createdAt: { N: String(1_764_900_000_000 + i) },
  status: { S: 'ringing' },
});

const REQUESTS = {
  GetItem: (client: DynamoDBClient, i: number) => client.send(new GetItemCommand({ TableName: TABLE, Key: { pk: PARTITION, sk: sortKey(i) } })),
  PutItem: (client: DynamoDBClient, i: number) => client.send(new PutItemCommand({ TableName: TABLE, Item: callRecord(i) })),
  Query: (client: DynamoDBClient) =>
    client.send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :calls)',
        ExpressionAttributeValues: { ':pk': PARTITION, ':calls': { S: 'CALL#' } },
        Limit: 3,
      }),
    ),
};
type RequestName = keyof typeof REQUESTS;

const withoutMiddleware =
  (...names: string[]) =>
  (client: DynamoDBClient): void => {
    for (const name of names) if (!client.middlewareStack.remove(name)) throw new Error(`no middleware ${name} on the client`);
  };
const fixedEndpoint = (client: DynamoDBClient, endpoint: string): void => {
  const resolved = { url: new URL(endpoint) };
  client.config.endpointProvider = () => resolved;
};
/** The SDK's default 300 s socket inactivity timeout (a timer re-armed on the socket per request). */
const noSocketTimeout = (client: DynamoDBClient): void =>
  (client.config.requestHandler as unknown as { updateHttpClientConfig(key: 'socketTimeout', value: number): void }).updateHttpClientConfig('socketTimeout', 0);

/**
 * Not a client: after one request of each kind through the SDK, Node's `http.request` sends that request's signed
 * bytes again over a kept-alive socket and parses the JSON that comes back. What the SDK adds is the difference.
 */
function httpReplay(client: DynamoDBClient): void {
  type Signed = { method: string; hostname: string; port?: number; path: string; headers: Record<string, string>; body: Uint8Array | string };
  const signed = new Map<string, Signed>();
  // Last in the finalize step: after the retry middleware and the signer.
  client.middlewareStack.add(
    (next, context) => (args) => {
      const request = args.request as Signed;
      // A copy of the body's bytes: the SDK's own body object warns when Node's HTTP client reads it as a string.
      signed.set(context.commandName ?? '', { ...request, body: typeof request.body === 'string' ? request.body : Buffer.from(request.body) });
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'keepSignedRequest' },
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const viaSdk = client.send.bind(client) as (command: unknown) => Promise<unknown>;
  const replay = (r: Signed): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const req = request({ method: r.method, host: r.hostname, port: r.port, path: r.path, headers: r.headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body: unknown = JSON.parse(Buffer.concat(chunks).toString());
          if (res.statusCode === 200) resolve(body);
          else reject(new Error(`status ${res.statusCode}: ${JSON.stringify(body)}`));
        });
      });
      req.on('error', reject);
      req.end(r.body);
    });
  Object.assign(client, {
    send: (command: object) => {
      const captured = signed.get(command.constructor.name);
      return captured ? replay(captured) : viaSdk(command);
    },
  });
}

const VARIANTS: Record<string, (client: DynamoDBClient, endpoint: string) => void> = {
  sdk: () => undefined,
  'no user agent': withoutMiddleware('getUserAgentMiddleware'),
  'no recursion detection': withoutMiddleware('recursionDetectionMiddleware'),
  'fixed endpoint': fixedEndpoint,
  'no socket timeout': noSocketTimeout,
  // Replaced in place by a pass-through (the signer is placed relative to it): one attempt, no token bucket, no headers.
  'no retry middleware': (client) =>
    client.middlewareStack.add((next) => next, { step: 'finalizeRequest', priority: 'high', name: 'retryMiddleware', override: true }),
  'all cuts but the retry': (client, endpoint) => {
    withoutMiddleware('getUserAgentMiddleware', 'recursionDetectionMiddleware')(client);
    fixedEndpoint(client, endpoint);
    noSocketTimeout(client);
  },
  'http replay (no SDK)': httpReplay,
};

type Measured = Record<RequestName, { total: number; mainThread: number }>;

/** A child: one variant's client, warmed up, then each kind of request `requests` times; ms per request. */
async function child(variant: string, endpoint: string, warmUp: number, requests: number): Promise<Measured> {
  const client = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: endpoint });
  VARIANTS[variant]?.(client, endpoint);
  const names = Object.keys(REQUESTS) as RequestName[];
  for (const name of names) for (let i = 0; i < warmUp; i++) await REQUESTS[name](client, i);
  const measured = {} as Measured;
  for (const name of names) {
    const since = process.cpuUsage();
    const mainSince = cpuMs('thread-self');
    for (let i = 0; i < requests; i++) await REQUESTS[name](client, i);
    const { user, system } = process.cpuUsage(since);
    measured[name] = { total: (user + system) / 1000 / requests, mainThread: (cpuMs('thread-self') - mainSince) / requests };
  }
  client.destroy();
  return measured;
}

function runChild(variant: string, endpoint: string, warmUp: number, requests: number): Promise<Measured> {
  const worker = fork(__filename, ['--child', variant, '--endpoint', endpoint, '--warm-up', String(warmUp), '--requests', String(requests)]);
  return new Promise((resolve, reject) => {
    worker.once('message', (m) => resolve(m as Measured));
    worker.once('exit', (code) => reject(new Error(`the ${variant} child exited with code ${code} before reporting`)));
  });
}

const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);
const ms = (n: number): string => (Math.round(n * 1000) / 1000).toFixed(3);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      endpoint: { type: 'string', default: '' },
      'warm-up': { type: 'string', default: '3000' },
      requests: { type: 'string', default: '2000' },
      rounds: { type: 'string', default: '3' },
      variants: { type: 'string', default: Object.keys(VARIANTS).join(',') },
    },
  });
  const warmUp = Number(values['warm-up']);
  const requests = Number(values.requests);
  if (values.child) {
    process.send?.(await child(values.child, values.endpoint, warmUp, requests));
    return process.disconnect();
  }
  const variants = values.variants.split(',');
  for (const variant of variants) if (!(variant in VARIANTS)) throw new Error(`unknown variant ${variant}: one of ${Object.keys(VARIANTS).join(', ')}`);
  const calibration = calibrationMs();
  const dynalite = await startDynalite(undefined);
  const setup = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: dynalite.endpoint });
  await ensureControlTable(setup, TABLE);
  for (let i = 0; i < 20; i++) await REQUESTS.PutItem(setup, i);
  setup.destroy();
  const runs = new Map<string, Measured[]>(variants.map((v) => [v, []]));
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const variant of variants) runs.get(variant)?.push(await runChild(variant, dynalite.endpoint, warmUp, requests));
  }
  await dynalite.close();

  const names = Object.keys(REQUESTS) as RequestName[];
  const meanOf = (measured: Measured[]) => median(measured.map((m) => names.reduce((sum, n) => sum + m[n].total, 0) / names.length));
  const baseline = runs.has('sdk') ? meanOf(runs.get('sdk') ?? []) : undefined;
  const lines = [
    `calibration ${round(calibration)} ms; ${requests} requests of each kind per round after ${warmUp}; median (min-max) of ${values.rounds} rounds, ms CPU per request`,
    `| variant | ${names.join(' | ')} | mean | vs sdk | main thread |`,
    `|---|${names.map(() => '---|').join('')}---|---|---|`,
  ];
  for (const [variant, measured] of runs) {
    const mean = meanOf(measured);
    const mainShare = median(measured.map((m) => names.reduce((s, n) => s + m[n].mainThread, 0) / names.reduce((s, n) => s + m[n].total, 0)));
    const perRequest = names.map((n) => {
      const all = measured.map((m) => m[n].total);
      return `${ms(median(all))} (${ms(Math.min(...all))}-${ms(Math.max(...all))})`;
    });
    const change = baseline === undefined ? '' : `${Math.round((100 * (mean - baseline)) / baseline)} %`;
    lines.push(`| ${variant} | ${perRequest.join(' | ')} | ${ms(mean)} | ${change} | ${Math.round(100 * mainShare)} % |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

void main();
