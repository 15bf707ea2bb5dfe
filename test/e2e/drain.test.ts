import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { tone, toneLevel } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { startLocalProcess, waitFor, type LocalProcess } from '../support/local-process';
import { mediaServers } from '../support/media-servers';

/**
 * Graceful drain, as ECS stops a task (SIGTERM), through `npm start` with two media server processes:
 * live calls go on to their end, new streams are refused with a clear status, `/health` turns 503, and
 * the process exits once idle or when DRAIN_TIMEOUT_SECONDS runs out. Scale-in protection follows the
 * load, through an HTTP endpoint standing in for the ECS agent's (`$ECS_AGENT_URI`).
 */
const DRAIN_TIMEOUT_SECONDS = 4;
let dataDir: string;
let stack: LocalProcess;
let agent: Server;
const protection: { ProtectionEnabled: boolean; ExpiresInMinutes?: number }[] = [];

beforeAll(async () => {
  agent = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.method !== 'PUT' || req.url !== '/task-protection/v1/state') return void res.writeHead(404).end();
      protection.push(JSON.parse(body) as (typeof protection)[number]);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ protection: { ProtectionEnabled: true } }));
    });
  });
  await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
  dataDir = mkdtempSync(join(tmpdir(), 'e2e-drain-'));
  stack = await startLocalProcess(dataDir, {
    MEDIA_SERVERS: '2',
    DRAIN_TIMEOUT_SECONDS: String(DRAIN_TIMEOUT_SECONDS),
    ECS_AGENT_URI: `http://127.0.0.1:${(agent.address() as AddressInfo).port}`,
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  agent?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const { server, onServer, connectorFor, callOn, callRecord } = mediaServers(() => stack);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const exited = (pid: number, timeoutMs: number) => waitFor(() => (alive(pid) ? undefined : true), timeoutMs);
const health = async (i: number) => (await fetch(server(i).url.replace(/^ws/, 'http') + '/health')).status;
/** The status and JSON body an upgrade to `url` is refused with. */
const refusal = (url: string) =>
  new Promise<{ status: number; body: unknown }>((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('error', () => undefined);
    ws.once('open', () => reject(new Error('upgraded')));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as unknown }));
    });
  });

it('SIGTERM: live calls finish, new streams are refused with 503, health turns 503, the process exits once idle', async () => {
  const answerUrl = await connectorFor('drain-room');
  const a = await callOn(answerUrl, 0, '14155550121');
  const b = await callOn(answerUrl, 0, '14155550122');
  await Promise.all([callRecord(a, 'answered'), callRecord(b, 'answered')]);
  await waitFor(() => (protection.at(-1)?.ProtectionEnabled ? true : undefined));
  expect(protection.at(-1)).toEqual({ ProtectionEnabled: true, ExpiresInMinutes: 60 });
  expect(await health(0)).toBe(200);
  // A stream with no valid claim is refused, and counted for the ClaimFailures alarm.
  const forged = new SimulatedCall({ answerUrl });
  await expect(forged.connect(`${server(0).url}/plivo?ref=${'x'.repeat(32)}`)).rejects.toThrow('stream upgrade refused: 401');

  process.kill(server(0).pid, 'SIGTERM');
  await waitFor(async () => ((await health(0)) === 503 ? true : undefined));
  // A new stream straight to the draining server is refused, saying why.
  const refused = new SimulatedCall({ answerUrl, from: '14155550123' });
  await expect(refused.connect(onServer(await refused.answer(), 0))).rejects.toThrow('stream upgrade refused: 503');
  // A room join too, with the code a client can act on (connect again: another server takes it).
  expect(await refusal(`${server(0).url}/rooms/drain-room`)).toEqual({ status: 503, body: { message: expect.stringContaining('draining'), code: 'draining' } });
  // Through the load balancer, new calls reach the other server once the health check has taken this one out.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const elsewhere = new SimulatedCall({ answerUrl: await connectorFor('drain-other'), from: '14155550124' });
  await elsewhere.start();
  expect(await callRecord(elsewhere, 'answered')).toBeDefined();

  // The live calls go on: they still hear each other, well into the drain.
  await Promise.all([a.play(tone(600, 1)), b.play(tone(1400, 1))]);
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(toneLevel(a.receivedPcm().subarray(-40 * 160), 1400)).toBeGreaterThan(4000);
  expect(toneLevel(b.receivedPcm().subarray(-40 * 160), 600)).toBeGreaterThan(4000);
  expect(alive(server(0).pid)).toBe(true);

  await Promise.all([a.hangup(), b.hangup()]);
  await exited(server(0).pid, 3000);
  // Ended by the caller: the stream's stop, or Plivo's hangup callback if it came first.
  for (const call of [a, b]) expect(['caller-hangup', 'NORMAL_CLEARING']).toContain((await callRecord(call, 'ended')).hangupReason);
  expect(stack.output()).toMatch(/"msg":"media server exited"[^\n]*"code":0/);
  // Its last metrics report (CloudWatch EMF) carries the refused stream and no live call.
  const reports = stack
    .output()
    .split('\n')
    .filter((line) => line.includes('"msg":"media metrics"') && line.includes(server(0).serverId))
    .map((line) => JSON.parse(line) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] } });
  expect(reports.at(-1)).toMatchObject({ MediaRegion: 'us002', ActiveCalls: 0, RelayErrors: 0 });
  expect(reports.at(-1)?._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'PlivoConnector/Media', Dimensions: [['MediaRegion']] });
  expect(reports.reduce((sum, r) => sum + (r.ClaimFailures as number), 0)).toBe(1);
  await elsewhere.hangup();
}, 60_000);

it('SIGTERM: calls still live when DRAIN_TIMEOUT_SECONDS runs out are ended (server-shutdown) and the process exits', async () => {
  const call = await callOn(await connectorFor('drain-limit'), 1, '14155550125');
  await callRecord(call, 'answered');
  const started = Date.now();
  process.kill(server(1).pid, 'SIGTERM');
  await call.closed();
  const drainedMs = Date.now() - started;
  expect(call.closeCode).toBe(1001);
  expect(drainedMs).toBeGreaterThanOrEqual(DRAIN_TIMEOUT_SECONDS * 1000 - 100);
  expect(drainedMs).toBeLessThan(DRAIN_TIMEOUT_SECONDS * 1000 + 3000);
  await exited(server(1).pid, 5000);
  expect(await callRecord(call, 'ended')).toMatchObject({ hangupReason: 'server-shutdown' });
  // Idle again: the last word to the ECS agent cleared the protection.
  expect(protection.at(-1)).toEqual({ ProtectionEnabled: false });
}, 30_000);
