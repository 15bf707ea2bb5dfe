import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { mulawDecode } from '../../core/mulaw';
import { startDynalite } from '../../local/aws';
import { tone, toneLevel } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { startLocalProcess, waitFor, type LocalProcess } from '../support/local-process';
import { expectPairHearsEachOther, mediaServers } from '../support/media-servers';
import { startReceiver } from '../support/webhook-receiver';

/**
 * The database (dynalite, `npm start`'s DynamoDB) stops while two calls talk in a room whose calls sit on
 * two media servers (one relayed), for longer than the placement lease, then comes back on the same port
 * with the same data. Media never needs the table once a call is seated, so the calls must go on; the API
 * and the Answer URL must refuse clearly meanwhile; and nothing may treat the outage as a dead server (the
 * sweeper used to end the live calls as media-failure on its first sweep after the database came back:
 * test/faults/sweeper-lapse.test.ts pins that down step by step). A media server killed mid-call is
 * test/e2e/scale-out.test.ts (its calls' records closed as media-failure, with webhooks; the room moves) and
 * test/e2e/drain.test.ts (SIGTERM: calls finish, or end as server-shutdown).
 */
const LEASE_SECONDS = 3;
let dataDir: string;
let stack: LocalProcess;
let database: { close(): Promise<void> } | undefined;
let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'fault-db-'));
  stack = await startLocalProcess(dataDir, { MEDIA_SERVERS: '2', PLACEMENT_LEASE_SECONDS: String(LEASE_SECONDS), SWEEP_INTERVAL_SECONDS: '1' });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await database?.close();
  await receiver?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const { api, connectorFor, callOn, callRecord } = mediaServers(() => stack);

/** Running: neither gone nor a zombie its parent has yet to reap. */
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** The pid of the stack's dynalite: the only process whose command line names its data directory. */
const dynalitePid = (): number => Number(execFileSync('pgrep', ['-f', join(dataDir, 'dynamodb')]).toString().trim());

/** What `call` was played from its `from`-th received frame on, as 8 kHz PCM. */
const heardSince = (call: SimulatedCall, from: number): Int16Array =>
  mulawDecode(Buffer.concat(call.received.slice(from).map((frame) => frame.mulaw)));

/** Both talk at once for `seconds`: each hears the other at full level, and not itself. */
async function expectTalking(a: SimulatedCall, b: SimulatedCall, seconds: number): Promise<void> {
  const [fromA, fromB] = [a.received.length, b.received.length];
  await Promise.all([a.play(tone(600, seconds)), b.play(tone(1400, seconds))]);
  await sleep(200);
  expect(toneLevel(heardSince(a, fromA), 1400)).toBeGreaterThan(3000);
  expect(toneLevel(heardSince(b, fromB), 600)).toBeGreaterThan(3000);
  expect(toneLevel(heardSince(a, fromA), 600)).toBeLessThan(100);
  expect(toneLevel(heardSince(b, fromB), 1400)).toBeLessThan(100);
  // Paced by the room's clock: about one frame back per 20 ms, nothing stalled or bunched up.
  expect(a.received.length - fromA).toBeGreaterThanOrEqual(seconds * 50 * 0.9);
  expect(b.received.length - fromB).toBeGreaterThanOrEqual(seconds * 50 * 0.9);
}

it('while the database is down: the API answers 503, the Answer URL Hangup XML, live calls talk on; once it is back, calls are answered again and the live ones end as normal', async () => {
  const hooks = (receiver = await startReceiver());
  const hook = await api('POST', '/v2/sip/webhooks', { url: hooks.url, events: ['call-hangup'] });
  expect(hook.status).toBe(201);
  const answerUrl = await connectorFor('db-outage');
  const a = await callOn(answerUrl, 0, '14155550121');
  await callRecord(a, 'answered');
  const b = await callOn(answerUrl, 1, '14155550122');
  await callRecord(b, 'answered');
  await expectPairHearsEachOther(a, b);

  const endpoint = new URL(stack.info.aws.dynamodbEndpoint);
  const pid = dynalitePid();
  process.kill(pid, 'SIGTERM');
  // A loaded machine may take a while to let it finish; a database that dies hard is as much an outage.
  await waitFor(() => (alive(pid) ? undefined : true), 5000).catch(async () => {
    process.kill(pid, 'SIGKILL');
    await waitFor(() => (alive(pid) ? undefined : true), 10_000);
  });
  const downAt = Date.now();

  // The management API: a clear, retryable refusal.
  const listed = await fetch(`${stack.info.apiUrl}/v2/connectors`, { headers: { authorization: `Bearer ${stack.info.token}` } });
  expect(listed.status).toBe(503);
  expect(listed.headers.get('retry-after')).toBe('1');
  expect(await listed.json()).toEqual({ message: 'The database is unavailable; retry shortly', code: 'unavailable' });

  // The Answer URL: Plivo XML that hangs up, never a bare 500.
  const refused = new SimulatedCall({ answerUrl, from: '14155550123' });
  const reply = await fetch(answerUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(refused.fields).toString(),
  });
  expect(reply.status).toBe(503);
  expect(reply.headers.get('content-type')).toMatch(/^text\/xml/);
  expect(await reply.text()).toMatch(/<Response>\s*<Hangup\b[^>]*\/>\s*<\/Response>/);

  // The calls talk on, through the relay too, before and after their servers' leases lapse unrenewed.
  await expectTalking(a, b, 1);
  await sleep(Math.max(0, downAt + (LEASE_SECONDS + 1) * 1000 - Date.now()));
  await expectTalking(a, b, 1);
  // Nothing crashed: the stack, both media servers.
  expect(stack.child.exitCode).toBeNull();
  for (const { pid: serverPid } of stack.info.mediaServers) expect(alive(serverPid)).toBe(true);
  expect(stack.output()).toMatch(/placement heartbeat failed/);

  // The database comes back where it was, with its data.
  database = await startDynalite(join(dataDir, 'dynamodb'), Number(endpoint.port));
  await waitFor(async () => ((await api('GET', '/v2/connectors?limit=1')).status === 200 ? true : undefined), 10_000);

  // Long enough for every server's heartbeat and several sweeps: the live calls are still live, on record too.
  await sleep(LEASE_SECONDS * 1000);
  await expectTalking(a, b, 1);
  for (const call of [a, b]) expect(await callRecord(call, 'answered')).toMatchObject({ end: null, hangupReason: null });
  expect(a.closeCode).toBeNull();
  expect(b.closeCode).toBeNull();

  // New calls are answered and join the room again.
  const c = await callOn(answerUrl, 1, '14155550124');
  await callRecord(c, 'answered');
  const fromA = a.received.length;
  await c.play(tone(900, 1));
  await sleep(200);
  expect(toneLevel(heardSince(a, fromA), 900)).toBeGreaterThan(3000);
  expect(stack.child.exitCode).toBeNull();
  for (const { pid: serverPid } of stack.info.mediaServers) expect(alive(serverPid)).toBe(true);

  // The calls that lived through the outage end as any call does, on record and by webhook: by the stream's
  // stop (caller-hangup), or by Plivo's hangup callback when that is recorded first (its HangupCause).
  for (const call of [a, b, c]) await call.hangup();
  const normal = expect.stringMatching(/^(caller-hangup|NORMAL_CLEARING)$/);
  for (const call of [a, b, c]) expect(await callRecord(call, 'ended')).toMatchObject({ hangupReason: normal });
  // Exactly one call-hangup each, none of them a media failure.
  await waitFor(() => (hooks.received.length >= 3 ? true : undefined), 10_000);
  await sleep(300);
  expect(hooks.received.map((r) => r.payload.data.additionalDetails.callUuid).sort()).toEqual([a.callUuid, b.callUuid, c.callUuid].sort());
  expect(hooks.received.map((r) => r.payload.data.additionalDetails.hangupReason)).toEqual([normal, normal, normal]);
  expect(stack.output()).not.toMatch(/call closed: its media server is gone/);
}, 60_000);
