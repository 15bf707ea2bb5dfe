import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient, sqsClient } from '../../core/aws';
import { callIdFor, type CallRecord } from '../../core/calls/model';
import { DynamoCallStore, SWITCH_ROOM_TIMEOUT_MS } from '../../core/calls/store';
import { loadControlPlaneConfig, type ControlPlaneConfig } from '../../core/config';
import { createLogger } from '../../core/log';
import { PlacementStore, type MediaServerRecord } from '../../core/placement';
import { RoomNames } from '../../core/room-records/service';
import { DynamoRoomStore } from '../../core/room-records/store';
import { recordingBuckets } from '../../core/recordings/buckets';
import { recordingKey, type Recording } from '../../core/recordings/model';
import { DynamoRecordingStore } from '../../core/recordings/store';
import { DynamoSessionStore } from '../../core/sessions/store';
import type { Sweeper } from '../../core/sweeper';
import { webhookStores } from '../../core/webhooks/publisher';
import { apiDependencies } from '../../lambdas/api/app';
import { createSweeper } from '../../lambdas/sweeper/app';
import { ensureControlTable, ensureWebhookQueues, LOCAL_KMS_KEY_ID, LOCAL_RECORDINGS_BUCKET, LOCAL_TABLE_NAME, startLocalAws, type LocalAws } from '../../local/aws';
import { memoryLog } from '../support/stack';

/**
 * After a database outage every media server's lease has lapsed, and the sweeper's first sweep that
 * succeeds sees them all lapsed. The servers are alive with their calls and renew within a third of their
 * lease: the sweeper must not end those calls as media failures. A server that stays lapsed is gone.
 * (test/faults/database-outage.test.ts shows the same through `npm start`; this pins it down step by step.)
 * And a switch of rooms no media server settles (its server died, or lost the command) fails by the sweeper's timeout.
 * And the sessions of a dead server are ended with their room webhook events, once each, even after a sweep that died.
 * And its recordings end `partial` with the audio its segments held (`failed` with none), their events once each.
 */
const LEASE_MS = 3000;
let dir: string;
let aws: LocalAws;
let dynamo: ReturnType<typeof dynamoClient>;
let sweeper: Sweeper;
let servers: PlacementStore;
let calls: DynamoCallStore;
let log: ReturnType<typeof memoryLog>;
let config: ControlPlaneConfig;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fault-sweeper-'));
  aws = await startLocalAws(undefined, dir);
  const sqs = sqsClient({ region: 'us-east-1', sqsEndpoint: aws.sqsEndpoint });
  const { queueUrl } = await ensureWebhookQueues(sqs);
  sqs.destroy();
  config = loadControlPlaneConfig({
    TABLE_NAME: LOCAL_TABLE_NAME,
    KMS_KEY_ID: LOCAL_KMS_KEY_ID,
    PUBLIC_URL: 'http://127.0.0.1',
    MEDIA_REGIONS: JSON.stringify({ us002: { ingestUrl: 'ws://127.0.0.1:1', claimsTable: LOCAL_TABLE_NAME, recordingsBucket: LOCAL_RECORDINGS_BUCKET } }),
    S3_ENDPOINT: aws.s3Endpoint,
    DYNAMODB_ENDPOINT: aws.dynamodbEndpoint,
    KMS_ENDPOINT: aws.kmsEndpoint,
    SQS_ENDPOINT: aws.sqsEndpoint,
    WEBHOOK_QUEUE_URL: queueUrl,
  });
  dynamo = dynamoClient(config.aws);
  await ensureControlTable(dynamo, LOCAL_TABLE_NAME);
  log = memoryLog();
  sweeper = createSweeper(config, log.logger);
  servers = new PlacementStore(dynamo, LOCAL_TABLE_NAME);
  calls = new DynamoCallStore(dynamo, LOCAL_TABLE_NAME);
});

afterAll(async () => {
  dynamo?.destroy();
  await aws?.close();
  rmSync(dir, { recursive: true, force: true });
});

const server = (serverId: string, leaseExpiresAtMs: number, state: MediaServerRecord['state'] = 'serving'): MediaServerRecord => ({
  serverId,
  relayUrl: 'ws://127.0.0.1:1',
  sealedRelaySecret: 'secret',
  state,
  leaseExpiresAtMs,
  leaseMs: LEASE_MS,
});

/** A call answered on `serverId`, as the media server records it. */
async function answeredOn(serverId: string): Promise<string> {
  const callUuid = `uuid-${serverId}`;
  const startedAt = new Date().toISOString();
  const record: CallRecord = {
    id: callIdFor(callUuid),
    tenant: 'acme',
    callUuid,
    provider: 'plivo',
    connectorId: 'cn_zzzzzzzzzzzzzzzz',
    ruleId: null,
    roomId: 'room',
    region: 'us002',
    from: '14155550100',
    to: '14155550199',
    type: 'inbound',
    hidePhoneNumber: false,
    status: 'incoming',
    timelog: [{ status: 'incoming', at: startedAt }],
    hangupCause: null,
    startedAt,
    answeredAt: null,
    endedAt: null,
    durationSeconds: null,
    hangupReason: null,
    agentStatus: null,
    stream: null,
    claimRef: 'ref',
    metadata: {},
  };
  expect(await calls.create(record, 1)).toBe(true);
  expect(await calls.answer('acme', record.id, startedAt, serverId)).not.toBeNull();
  return record.id;
}

const status = async (id: string) => (await calls.get('acme', id))?.status;
const at = (ms: number) => new Date(ms);

it('keeps the calls of a server whose lapsed lease it sees first as the database comes back, when the server then renews', async () => {
  const t0 = Date.now();
  // The server's last renewal before the outage; the outage outlasted the lease.
  await servers.heartbeat(server('revived', t0 - 2000));
  const id = await answeredOn('revived');

  expect((await sweeper.sweep(at(t0))).failed).toBe(0);
  expect(await status(id)).toBe('answered');
  // The server's heartbeat, a third of a lease later, now that the table answers again.
  await servers.heartbeat(server('revived', t0 + 1000 + LEASE_MS));
  for (const ms of [1000, 2000, 3000]) expect((await sweeper.sweep(at(t0 + ms))).failed).toBe(0);
  expect(await status(id)).toBe('answered');
  expect((await servers.servers()).map((s) => s.serverId)).toContain('revived');
  // Out of the way of the next tests' sweeps.
  await servers.forgetServer('revived', t0 + 1000 + LEASE_MS);
});

it('ends the calls of a server whose lease stays lapsed for a whole lease after the sweeper first saw it, with media-failure', async () => {
  const t0 = Date.now();
  await servers.heartbeat(server('dead', t0 - 1));
  const id = await answeredOn('dead');

  expect((await sweeper.sweep(at(t0))).failed).toBe(0);
  expect((await sweeper.sweep(at(t0 + LEASE_MS - 100))).failed).toBe(0);
  expect(await status(id)).toBe('answered');
  expect((await sweeper.sweep(at(t0 + LEASE_MS))).failed).toBe(1);
  expect(await calls.get('acme', id)).toMatchObject({ status: 'ended', hangupReason: 'media-failure' });
  expect((await servers.servers()).map((s) => s.serverId)).not.toContain('dead');
  expect(log.lines.some((l) => l.includes('call closed: its media server is gone') && l.includes('"serverId":"dead"'))).toBe(true);
});

it('a lapse seen before a renewal does not count for the next lapse: the sweeper starts counting again', async () => {
  const t0 = Date.now();
  await servers.heartbeat(server('flapping', t0 - 1));
  const id = await answeredOn('flapping');
  expect((await sweeper.sweep(at(t0))).failed).toBe(0);
  // It renewed, then lapsed again (died) at t0 + 1000: the earlier sighting does not count.
  await servers.heartbeat(server('flapping', t0 + 1000));
  expect((await sweeper.sweep(at(t0 + LEASE_MS + 100))).failed).toBe(0);
  expect(await status(id)).toBe('answered');
  expect((await sweeper.sweep(at(t0 + 2 * LEASE_MS + 100))).failed).toBe(1);
  expect(await status(id)).toBe('ended');
});

it('ends the calls of a server that marked itself stopped at once', async () => {
  const t0 = Date.now();
  await servers.heartbeat(server('stopped', t0 - 1, 'stopped'));
  const id = await answeredOn('stopped');
  expect((await sweeper.sweep(at(t0))).failed).toBe(1);
  expect(await calls.get('acme', id)).toMatchObject({ status: 'ended', hangupReason: 'media-failure' });
});

it('goes on past a call it cannot finish: the others are finished, and that server is watched still', async () => {
  const t0 = Date.now();
  const past = new Date(t0 - 60_000).toISOString();
  // Records nobody can read (as a bug or a hand edit could leave them): one overdue as missed, one on a stopped server.
  const broken = (sk: string, duePk: string) =>
    dynamo.send(new PutItemCommand({ TableName: LOCAL_TABLE_NAME, Item: { pk: { S: 'T#acme' }, sk: { S: sk }, status: { S: 'incoming' }, duePk: { S: duePk }, dueSk: { S: past } } }));
  await broken('CALL#broken-missed', 'DUE#call');
  await broken('CALL#broken-answered', 'DUE#server#gone');
  await servers.heartbeat(server('gone', t0 - 1, 'stopped'));
  const id = await answeredOn('gone');
  const swept = await sweeper.sweep(at(t0));
  expect(swept.failed).toBe(1);
  expect(await status(id)).toBe('ended');
  expect(log.lines.filter((line) => line.includes('sweep: could not')).length).toBeGreaterThanOrEqual(2);
  // Not forgotten: the next sweep tries its unfinished call again.
  expect((await servers.servers()).some((s) => s.serverId === 'gone')).toBe(true);
});

describe('a switch of rooms no media server settles', () => {
  const switchRoom = (id: string, switchId: string, to = 'elsewhere') => calls.switchRoom('acme', id, { event: 'switch-room-initiated', from: 'room', to, at: new Date().toISOString() }, switchId);
  const moves = async (id: string) => (await calls.get('acme', id))?.timelog.flatMap((entry) => ('from' in entry ? [`${entry.event}${entry.reason ? `:${entry.reason}` : ''}`] : []));

  it('fails by timeout once, SWITCH_ROOM_TIMEOUT_MS after it was asked for; a completion after that does not land', async () => {
    const t0 = Date.now();
    await servers.heartbeat(server('switching', t0 + 3_600_000));
    const id = await answeredOn('switching');
    expect(await switchRoom(id, 'cmd_late')).not.toBeNull();
    expect((await sweeper.sweep(at(t0 + SWITCH_ROOM_TIMEOUT_MS - 1000))).switchesTimedOut).toBe(0);
    expect((await sweeper.sweep(at(t0 + SWITCH_ROOM_TIMEOUT_MS + 1000))).switchesTimedOut).toBe(1);
    expect((await sweeper.sweep(at(t0 + SWITCH_ROOM_TIMEOUT_MS + 2000))).switchesTimedOut).toBe(0);
    const late = await calls.switchRoom('acme', id, { event: 'switch-room-completed', from: 'room', to: 'elsewhere', at: new Date().toISOString() }, 'cmd_late');
    expect(late).toBeNull();
    expect(await calls.get('acme', id)).toMatchObject({ status: 'answered', roomId: 'room' });
    expect(await moves(id)).toEqual(['switch-room-initiated', 'switch-room-failed:timeout']);
    expect(log.lines.filter((l) => l.includes('switch-room timed out') && l.includes(id))).toHaveLength(1);
    await servers.forgetServer('switching', t0 + 3_600_000);
  });

  it("of a call whose server died: the switch times out, then the sweep closes the call as the server's", async () => {
    const t0 = Date.now();
    await servers.heartbeat(server('died-switching', t0 - 1));
    const id = await answeredOn('died-switching');
    expect(await switchRoom(id, 'cmd_lost')).not.toBeNull();
    expect((await sweeper.sweep(at(t0))).failed).toBe(0);
    // The server is gone for sure now, but its call is due as a switch until the switch times out.
    expect(await sweeper.sweep(at(t0 + LEASE_MS))).toMatchObject({ failed: 0, switchesTimedOut: 0 });
    expect(await sweeper.sweep(at(t0 + SWITCH_ROOM_TIMEOUT_MS + 1000))).toMatchObject({ failed: 1, switchesTimedOut: 1 });
    expect(await calls.get('acme', id)).toMatchObject({ status: 'ended', hangupReason: 'media-failure' });
    expect(await moves(id)).toEqual(['switch-room-initiated', 'switch-room-failed:timeout']);
  });

  it('fails at once, unavailable, when the API cannot write the command for the media server', async () => {
    const lease = Date.now() + 3_600_000;
    await servers.heartbeat(server('unreached', lease));
    const id = await answeredOn('unreached');
    // The region's table does not exist: the command's write fails as DynamoDB fails it.
    const api = apiDependencies({ ...config, mediaRegions: [{ id: 'us002', ingestUrl: 'ws://127.0.0.1:1', claimsTable: 'no-such-table', recordingsBucket: 'recordings' }] }, log.logger);
    await expect(api.callControl.switchRoom('acme', { callId: id, roomId: 'elsewhere' })).rejects.toThrow();
    expect(await calls.get('acme', id)).toMatchObject({ status: 'answered', roomId: 'room' });
    expect((await calls.get('acme', id))?.pendingSwitch).toBeUndefined();
    expect(await moves(id)).toEqual(['switch-room-initiated', 'switch-room-failed:unavailable']);
    // Settled: the call may be switched again.
    expect(await switchRoom(id, 'cmd_again')).not.toBeNull();
    await servers.forgetServer('unreached', lease);
  });
});

describe('the sessions of a server that died', () => {
  it("are ended with their rooms' participant-left and session-ended, even when an earlier sweep died after closing them; once each", async () => {
    const t0 = Date.now();
    const room = await new RoomNames(new DynamoRoomStore(dynamo, LOCAL_TABLE_NAME), createLogger('error')).create('acme', {
      roomId: 'dead-serv-room',
      customRoomId: null,
      webhook: { endPoint: 'http://127.0.0.1:1/hook', events: ['participant-left', 'session-ended'] },
    });
    const sessions = new DynamoSessionStore(dynamo, LOCAL_TABLE_NAME);
    const start = new Date(t0).toISOString();
    const session = { tenant: 'acme', id: 'ss_deadserver0000000000000000000', roomId: room.roomId, customRoomId: null, start, end: null, status: 'ongoing', region: 'us002' } as const;
    await sessions.start(session, 'session-holder', 30);
    for (const participantId of ['web_a', 'web_b']) await sessions.joined('acme', session.id, { participantId, name: null, kind: 'web', callId: null }, start, 30);
    await servers.heartbeat(server('session-holder', t0 - 1, 'stopped'));
    // A sweep that closed the session and died before it published anything: only its writes were done.
    const died = await sessions.endLeftBehind('acme', session.id, at(t0).toISOString());
    expect(died?.left).toHaveLength(2);

    await sweeper.sweep(at(t0 + 1000));
    const deliveries = async () => (await webhookStores(config, dynamo).deliveries.page('acme', room.id, undefined, { page: 1, perPage: 10 })).data;
    const sent = await deliveries();
    expect(sent.map((d) => d.event).sort()).toEqual(['participant-left', 'participant-left', 'session-ended']);
    expect(sent.every((d) => (JSON.parse(d.body) as { timestamp: string }).timestamp === at(t0).toISOString())).toBe(true);
    expect(await sessions.get('acme', session.id)).toMatchObject({ status: 'ended', end: at(t0).toISOString() });
    // Forgotten: later sweeps neither end it again nor publish a twin.
    await sweeper.sweep(at(t0 + 2000));
    expect((await deliveries()).map((d) => d.id).sort()).toEqual(sent.map((d) => d.id).sort());
    expect(log.lines.filter((l) => l.includes('session ended: its media server is gone') && l.includes(session.id))).toHaveLength(1);
  });
});

describe('the recordings of a server that died', () => {
  it('are assembled from the segments it uploaded and end partial at the end of that audio, or failed with none; one event each', async () => {
    const t0 = Date.now();
    const store = new DynamoRecordingStore(dynamo, LOCAL_TABLE_NAME);
    const start = new Date(t0 - 60_000).toISOString();
    const recording = (id: string, kind: Recording['kind']): Recording => ({
      tenant: 'acme',
      id,
      kind,
      roomId: 'rec-room',
      customRoomId: null,
      sessionId: 'ss_recsession00000000000000000',
      callId: kind === 'call' ? 'call_x' : null,
      status: 'recording',
      start,
      end: null,
      reason: null,
      format: { format: 'wav', channels: kind === 'call' ? 2 : 1, sampleRate: 8000 },
      region: 'us002',
      awsRegion: 'us-east-1',
      bucket: LOCAL_RECORDINGS_BUCKET,
      key: recordingKey('acme', 'rec-room', 'ss_recsession00000000000000000', id),
      serverId: 'recording-holder',
      webhookUrl: 'http://127.0.0.1:1/recording-hook',
      size: null,
      duration: null,
    });
    const kept = recording('rec_kept0000000000000000000000000', 'call');
    const lost = recording('rec_lost0000000000000000000000000', 'room');
    for (const r of [kept, lost]) expect(await store.create(r, 30)).toBe(true);
    // Two segments of 0.5 s of an 8 kHz call reached the bucket before the server died: mu-law, 16,000 bytes a second
    // (0x80 and 0x00: +32124 and -32124), assembled into PCM16 (32,000 bytes a second).
    const objects = recordingBuckets(config.aws)('us-east-1', LOCAL_RECORDINGS_BUCKET);
    await objects.putSegment(kept.key, 1, Buffer.alloc(8_000, 0x80));
    await objects.putSegment(kept.key, 2, Buffer.alloc(8_000, 0x00));
    await servers.heartbeat(server('recording-holder', t0 - 1, 'stopped'));

    await sweeper.sweep(at(t0));
    expect(await store.get('acme', kept.id)).toMatchObject({ status: 'partial', reason: 'media server stopped', size: 44 + 32_000, duration: 1, end: new Date(Date.parse(start) + 1000).toISOString() });
    expect(await store.get('acme', lost.id)).toMatchObject({ status: 'failed', reason: 'media server stopped', size: null, end: at(t0).toISOString() });
    const wav = Buffer.from(await (await fetch(await objects.presign(kept.key, 60))).arrayBuffer());
    expect([wav.length, wav.readUInt16LE(22), wav.readInt16LE(44), wav.readInt16LE(44 + 15_998), wav.readInt16LE(44 + 16_000), wav.readInt16LE(44 + 31_998)]).toEqual([44 + 32_000, 2, 32124, 32124, -32124, -32124]);
    const deliveries = async (id: string) => (await webhookStores(config, dynamo).deliveries.page('acme', id, undefined, { page: 1, perPage: 10 })).data.map((d) => d.event);
    expect(await deliveries(kept.id)).toEqual(['recording-stopped']);
    expect(await deliveries(lost.id)).toEqual(['recording-failed']);
    // Finished: a later sweep neither assembles nor publishes again.
    await sweeper.sweep(at(t0 + 1000));
    expect(await deliveries(kept.id)).toEqual(['recording-stopped']);
    expect(log.lines.filter((l) => l.includes('recording ended: its media server is gone'))).toHaveLength(2);
  });
});
