import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tone } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { s3Client } from '../../core/aws';
import { LOCAL_RECORDINGS_BUCKET } from '../../local/aws';
import type { LocalStackInfo } from '../../local/stack';
import { apiRequest, localProcessPerFile, NODE_TSX, ROOT, startLocalProcess, waitFor, type LocalProcess } from '../support/local-process';
import { flatCalls } from '../support/calls';
import { PlivoVoiceApi, type PlivoCredentials } from '../../core/plivo/voice-api';

/**
 * `npm start` as a user runs it: a real process, driven with the seed's curl commands, stopped with
 * Ctrl-C (SIGINT) and started again on the same data.
 */
let dataDir: string;
let proc: LocalProcess | undefined;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'npm-start-'));
});
let starting: ChildProcess | undefined;
afterEach(() => {
  proc?.child.kill('SIGKILL');
  starting?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

async function start(): Promise<LocalStackInfo> {
  proc = await startLocalProcess(dataDir);
  const { info } = proc;
  expect(proc.output()).toContain(info.token);
  expect(proc.output()).toContain(info.connector.webhookUrl);
  return info;
}

async function stop(): Promise<number | null> {
  const code = await proc!.stop();
  proc = undefined;
  return code;
}

function curl(...args: string[]): { status: number; body: unknown } {
  const out = spawnSync('curl', ['-sS', '-w', '\n%{http_code}', ...args], { encoding: 'utf8' });
  expect(out.status).toBe(0);
  const lines = out.stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  return { status, body: JSON.parse(lines.join('\n')) as unknown };
}

function token(args: string[], env: Record<string, string> = {}): string {
  const out = spawnSync(NODE_TSX[0], [...NODE_TSX.slice(1), 'tools/token.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, ...env },
    encoding: 'utf8',
  });
  expect(out.status).toBe(0);
  return out.stdout.trim();
}

it('serves the seed curl flow, stops on Ctrl-C (ending a live call as server-shutdown with its true duration, before the store stops) and keeps its data across restarts', async () => {
  const info = await start();
  const auth = `Authorization: Bearer ${info.token}`;

  const created = curl('-X', 'POST', `${info.apiUrl}/v2/connectors`, '-H', auth, '-H', 'Content-Type: application/json', '-d',
    '{"provider": "plivo", "name": "Main Plivo Connector", "defaultRoomId": "abcd-efgh-ijkl", "region": "us002"}');
  expect(created.status).toBe(201);
  const id = (created.body as { data: { id: string } }).data.id;

  const listed = curl(`${info.apiUrl}/v2/connectors`, '-H', auth);
  expect(listed.status).toBe(200);
  const ids = (listed.body as { data: { id: string }[] }).data.map((c) => c.id);
  expect(ids).toEqual([id, info.connector.id]);

  const fetched = curl(`${info.apiUrl}/v2/connectors/${id}`, '-H', auth);
  expect(fetched.body).toMatchObject({ data: { id, name: 'Main Plivo Connector', defaultRoomId: 'abcd-efgh-ijkl', region: 'us002' } });

  const rotated = curl('-X', 'POST', `${info.apiUrl}/v2/connectors/${id}/rotate-key`, '-H', auth);
  expect(rotated.status).toBe(200);
  const webhookUrl = (rotated.body as { data: { webhookUrl: string } }).data.webhookUrl;

  const demo = curl(`${info.apiUrl}/v2/connectors/${info.connector.id}`, '-H', auth);
  expect(demo.body).toMatchObject({ data: { defaultRoomId: 'demo-room', webhookUrl: info.connector.webhookUrl } });

  // A token minted by `npm run token` while the stack runs works against it.
  const minted = token(['--apikey', 'demo', '--ttl', '10m']);
  expect(curl(`${info.apiUrl}/v2/connectors`, '-H', `Authorization: Bearer ${minted}`).status).toBe(200);

  // AWS mode (TABLE_NAME + KMS_KEY_ID), here pointed at the stack's stand-ins: a new tenant, no connectors.
  const fromAws = token(['--apikey', 'aws-tenant'], {
    TABLE_NAME: 'plivo-connector',
    KMS_KEY_ID: 'alias/plivo-connector-data',
    DYNAMODB_ENDPOINT: info.aws.dynamodbEndpoint,
    KMS_ENDPOINT: info.aws.kmsEndpoint,
  });
  expect(curl(`${info.apiUrl}/v2/connectors`, '-H', `Authorization: Bearer ${fromAws}`)).toEqual({
    status: 200,
    body: { data: [], pageInfo: { limit: 20, nextCursor: null } },
  });

  // The recordings bucket (the S3 emulator) is under DATA_DIR too.
  const s3 = s3Client({ region: 'us-east-1', s3Endpoint: info.aws.s3Endpoint }, 'us-east-1');
  await s3.send(new PutObjectCommand({ Bucket: LOCAL_RECORDINGS_BUCKET, Key: 'demo/kept.wav', Body: 'RIFF kept' }));
  s3.destroy();

  // A call live at Ctrl-C (one start and stop serves both checks: each costs seconds).
  const { data: shutdownConnector } = await apiRequest(proc!, 'POST', '/v2/connectors', { provider: 'plivo', defaultRoomId: 'shutdown-room' });
  const call = new SimulatedCall({ answerUrl: shutdownConnector.webhookUrl as string });
  await call.start();
  const connectedAt = Date.now();
  await call.play(tone(700, 2.5));
  const live = await apiRequest(proc!, 'GET', '/v2/sip/call?roomId=shutdown-room');
  expect(flatCalls(live)).toMatchObject([{ callUuid: call.callUuid, status: 'answered' }]);

  const interruptedAt = Date.now();
  expect(await stop()).toBe(0);
  const trueSeconds = (interruptedAt - connectedAt) / 1000;

  // `npm run token` also works while the stack is down, on the same data.
  const offline = token(['--apikey', 'demo']);
  const again = await start();
  // Same demo connector and key; only the port (PORT=0) differs.
  expect(again.connector.id).toBe(info.connector.id);
  expect(again.connector.webhookUrl.replace(again.apiUrl, '')).toBe(info.connector.webhookUrl.replace(info.apiUrl, ''));
  for (const t of [info.token, again.token, offline]) {
    const res = curl(`${again.apiUrl}/v2/connectors/${id}`, '-H', `Authorization: Bearer ${t}`);
    expect(res).toEqual({ status: 200, body: { data: expect.objectContaining({ id, webhookUrl: expect.any(String) }) } });
    expect((res.body as { data: { webhookUrl: string } }).data.webhookUrl.split('/').pop()).toBe(webhookUrl.split('/').pop());
  }

  // Its objects too, and a presigned URL downloads from another process (curl), as a tenant's client would.
  const s3Again = s3Client({ region: 'us-east-1', s3Endpoint: again.aws.s3Endpoint }, 'us-east-1');
  const url = await getSignedUrl(s3Again, new GetObjectCommand({ Bucket: LOCAL_RECORDINGS_BUCKET, Key: 'demo/kept.wav' }), { expiresIn: 60 });
  s3Again.destroy();
  expect(spawnSync('curl', ['-sSf', url], { encoding: 'utf8' }).stdout).toBe('RIFF kept');

  // The call live at Ctrl-C ended as server-shutdown, with its true duration.
  const [record] = flatCalls(await apiRequest(proc!, 'GET', '/v2/sip/call?roomId=shutdown-room'));
  expect(record).toMatchObject({ callUuid: call.callUuid, status: 'ended', hangupReason: 'server-shutdown' });
  expect(Math.abs((record?.durationSeconds ?? NaN) - trueSeconds)).toBeLessThanOrEqual(2);

  const deleted = curl('-X', 'DELETE', `${again.apiUrl}/v2/connectors/${id}`, '-H', `Authorization: Bearer ${again.token}`);
  expect(deleted.status).toBe(200);
  expect(curl(`${again.apiUrl}/v2/connectors/${id}`, '-H', `Authorization: Bearer ${again.token}`).status).toBe(404);
  expect(await stop()).toBe(0);
}, 90_000);

it("prints readable log lines on a terminal, its media servers' included, and stops on Ctrl-C typed there", async () => {
  // `script` runs it on a pseudo-terminal, as a person's shell does; what is typed into script reaches that terminal.
  // `exec`: script's shell ($SHELL, else dash, which dies of the Ctrl-C itself) is replaced by the stack.
  const command = ['exec', ...[...NODE_TSX, 'local/start.ts'].map((arg) => `'${arg}'`)].join(' ');
  const child = (starting = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, PORT: '0', DATA_DIR: dataDir }, stdio: 'pipe' }));
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const plain = () => output.replace(/\u001b\[[0-9;]*m/g, '');
  await waitFor(() => (plain().includes('export VIDEOSDK_TOKEN=') && /INFO.*media: media server started/.test(plain()) ? true : undefined), 30_000);
  expect(plain()).not.toMatch(/^\{"level"/m);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdin.write('\u0003');
  expect(await exited).toBe(0);
  expect(plain()).toMatch(/INFO.*local: stopping/);
}, 60_000);

it('refuses a bad configuration with a clear message', () => {
  const out = spawnSync(NODE_TSX[0], [...NODE_TSX.slice(1), 'local/start.ts'], { cwd: ROOT, env: { ...process.env, PORT: 'seventy', DATA_DIR: dataDir }, encoding: 'utf8' });
  expect(out.status).toBe(1);
  expect(out.stdout + out.stderr).toContain('PORT must be 0-65535');
});

it('refuses bad token options with usage and exit code 2', () => {
  const out = spawnSync(NODE_TSX[0], [...NODE_TSX.slice(1), 'tools/token.ts', '--ttl', 'forever'], { cwd: ROOT, env: { ...process.env, DATA_DIR: dataDir }, encoding: 'utf8' });
  expect(out.status).toBe(2);
  expect(out.stderr).toContain('--ttl must be a positive duration');
  expect(out.stdout).toBe('');
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The first reply the port gives, retrying only while nothing listens there yet. */
async function firstReply(url: string): Promise<Response> {
  for (;;) {
    try {
      // A reply that never comes (a request no listener takes) fails here, long before the stack would be up.
      return await fetch(url, { signal: AbortSignal.timeout(15_000) });
    } catch (err) {
      if ((err as { cause?: { code?: string } }).cause?.code !== 'ECONNREFUSED') throw err;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

it('answers from the first moment: 503 with Retry-After until everything serves, /health 200 once the banner is out', async () => {
  const port = await freePort();
  const child = (starting = spawn(NODE_TSX[0], [...NODE_TSX.slice(1), 'local/start.ts'], { cwd: ROOT, env: { ...process.env, PORT: String(port), DATA_DIR: dataDir }, stdio: 'pipe' }));
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const base = `http://127.0.0.1:${port}`;

  const early = await firstReply(`${base}/v2/connectors`);
  expect(output).not.toContain('export VIDEOSDK_TOKEN=');
  expect(early.status).toBe(503);
  expect(early.headers.get('retry-after')).toBe('1');
  expect(await early.json()).toEqual({ message: 'The local stack is starting; retry shortly', code: 'unavailable' });
  const health = await fetch(`${base}/health`);
  if (!output.includes('export VIDEOSDK_TOKEN=')) expect([health.status, await health.json()]).toEqual([503, { status: 'starting' }]);

  await waitFor(() => (output.includes('export VIDEOSDK_TOKEN=') ? true : undefined), 30_000);
  const ready = await fetch(`${base}/health`);
  expect([ready.status, await ready.json()]).toEqual([200, { status: 'serving' }]);
  expect((await fetch(`${base}/v2/connectors`)).status).toBe(401);
  expect((await fetch(`${base}/console`)).status).toBe(200);
}, 60_000);

describe('one stack, its media servers left idle', () => {
  // One start for these (each start costs seconds): none of them calls, which the last one relies on.
  const local = localProcessPerFile('npm-start-');

  it("authenticates its Plivo emulator against connectors' credentials, as set and cleared through the API", async () => {
    const plivo = new PlivoVoiceApi({ baseUrl: local.stack.info.plivoApiUrl, allowPrivateTargets: true });
    const credentials: PlivoCredentials = { authId: 'SANPMSTART0000000001', authToken: 'npm-start-plivo-auth-token-01' };
    const refused = { status: 502, code: 'plivo_error', message: expect.stringMatching(/Authentication failed/) };
    await expect(plivo.hangup(credentials, 'no-such-call')).rejects.toMatchObject(refused);
    const created = await apiRequest(local.stack, 'POST', '/v2/connectors', { provider: 'plivo', plivoAuthId: credentials.authId, plivoAuthToken: credentials.authToken });
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({ plivoAuthIdSet: true, plivoAuthTokenSet: true });
    // Plivo's 404 for a call it does not know: the Basic auth passed.
    expect(await plivo.hangup(credentials, 'no-such-call')).toBe('already-ended');
    await expect(plivo.hangup({ ...credentials, authToken: 'another-plivo-auth-token-02' }, 'no-such-call')).rejects.toMatchObject(refused);
    const cleared = await apiRequest(local.stack, 'PATCH', `/v2/connectors/${created.data.id as string}`, { plivoAuthToken: null });
    expect(cleared.status).toBe(200);
    await expect(plivo.hangup(credentials, 'no-such-call')).rejects.toMatchObject(refused);
  });

  it('refuses a second npm start on the same DATA_DIR, naming the lock and the process holding it', async () => {
    const { dataDir: held, stack } = local;
    const out = spawnSync(NODE_TSX[0], [...NODE_TSX.slice(1), 'local/start.ts'], { cwd: ROOT, env: { ...process.env, PORT: '0', DATA_DIR: held }, encoding: 'utf8', timeout: 30_000 });
    expect(out.status).toBe(1);
    const said = out.stdout + out.stderr;
    expect(said).toContain(`DATA_DIR ${held} is in use by another npm start (pid ${stack.child.pid}, lock ${join(held, 'local-stack.lock')})`);
    expect(said).not.toMatch(/dynalite|LOCK|\n\s+at /);
    // The first one is untouched.
    expect((await fetch(`${stack.info.apiUrl}/health`)).status).toBe(200);
  }, 60_000);

  it('is quiet while idle: a media server that served nothing reports no metrics, not even on Ctrl-C', async () => {
    expect(await local.stack.stop()).toBe(0);
    expect(local.stack.output()).toContain('"msg":"media server stopped"');
    expect(local.stack.output()).not.toContain('media metrics');
  });
});

it('in AWS an idle media server still reports its metrics, on Ctrl-C too', async () => {
  // In AWS each report is a data point of the autoscaling metric (CloudWatch EMF), idle or not.
  proc = await startLocalProcess(dataDir, { AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE' });
  const inAws = proc.output;
  expect(await stop()).toBe(0);
  expect(inAws()).toMatch(/"msg":"media metrics"[^\n]*"ActiveCalls":0,"RelayErrors":0,"ClaimFailures":0/);
}, 60_000);
