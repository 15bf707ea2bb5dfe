import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../../core/auth';
import { dynamoClient, kmsClient, sqsClient } from '../../core/aws';
import type { CallView } from '../../core/calls/model';
import { DynamoCallStore } from '../../core/calls/store';
import { loadControlPlaneConfig, type ControlPlaneConfig } from '../../core/config';
import { newSessionId } from '../../core/ids';
import { MediaCommandStore, type MediaCommand } from '../../core/media-commands';
import { PlacementStore } from '../../core/placement';
import { recordingWebhookPublisher } from '../../core/recordings/events';
import type { Recording, RecordingView } from '../../core/recordings/model';
import { DynamoRecordingStore } from '../../core/recordings/store';
import { SecretBox } from '../../core/secret-box';
import { DynamoSessionStore } from '../../core/sessions/store';
import { TenantStore } from '../../core/tenants';
import { DeliveryLog } from '../../core/webhooks/delivery-log';
import { DeliveryReceivers } from '../../core/webhooks/receivers';
import { webhookStores } from '../../core/webhooks/publisher';
import { DynamoRoomStore } from '../../core/room-records/store';
import { ensureControlTable, ensureWebhookQueues, LOCAL_KMS_KEY_ID, LOCAL_TABLE_NAME, startLocalAws, type LocalAws } from '../../local/aws';
import { serveApi } from '../support/api-server';
import { endedCall } from '../support/calls';
import { startTestS3, type TestS3 } from '../support/s3';
import { memoryLog, type NumberedList } from '../support/stack';

/**
 * `/v2/recordings` through the API function behind the local gateway, on the local AWS emulators (dynalite, the KMS
 * emulator, the SQS emulator, s3rver). The media server's side is played here as it would act: a room's live session
 * and its placement on a server are written to the table; that server's command queue is read back; a recording ends
 * as the media server ends it, its WAV put in the bucket and its record finished.
 */
const BUCKET = 'recordings';
const SERVER = 'media-rec-1';

let dir: string;
let aws: LocalAws;
let s3: TestS3;
let dynamo: DynamoDBClient;
let config: ControlPlaneConfig;
let api: Awaited<ReturnType<typeof serveApi>>;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'recordings-api-'));
  aws = await startLocalAws(undefined, dir);
  s3 = await startTestS3(BUCKET);
  const endpoints = { region: 'us-east-1', dynamodbEndpoint: aws.dynamodbEndpoint, kmsEndpoint: aws.kmsEndpoint, sqsEndpoint: aws.sqsEndpoint };
  dynamo = dynamoClient(endpoints);
  await ensureControlTable(dynamo, LOCAL_TABLE_NAME);
  const { queueUrl, deadLetterQueueUrl } = await ensureWebhookQueues(sqsClient(endpoints));
  const loaded = loadControlPlaneConfig({
    TABLE_NAME: LOCAL_TABLE_NAME,
    KMS_KEY_ID: LOCAL_KMS_KEY_ID,
    PUBLIC_URL: 'http://127.0.0.1',
    MEDIA_REGIONS: JSON.stringify({ us002: { ingestUrl: 'ws://127.0.0.1:1', claimsTable: LOCAL_TABLE_NAME, recordingsBucket: BUCKET } }),
    DYNAMODB_ENDPOINT: aws.dynamodbEndpoint,
    KMS_ENDPOINT: aws.kmsEndpoint,
    SQS_ENDPOINT: aws.sqsEndpoint,
    S3_ENDPOINT: s3.endpoint,
    WEBHOOK_QUEUE_URL: queueUrl,
    WEBHOOK_DLQ_URL: deadLetterQueueUrl,
    WEBHOOK_CACHE_SECONDS: '0',
    RECORDING_URL_SECONDS: '120',
  });
  // As `npm start` has it: webhook URLs may be http://127.0.0.1.
  config = { ...loaded, webhooks: { ...loaded.webhooks, allowPrivateTargets: true } };
  api = await serveApi(config);
  const tenants = new TenantStore(dynamo, LOCAL_TABLE_NAME, new SecretBox(kmsClient(endpoints), LOCAL_KMS_KEY_ID));
  for (const tenant of ['acme', 'globex']) tokens[tenant] = await mintToken(await tenants.ensureSecret(tenant), { apikey: tenant, ttlSeconds: 3600 });
}, 60_000);
afterAll(async () => {
  await api.close();
  dynamo.destroy();
  await s3.close();
  await aws.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = async (method: string, path: string, body?: unknown, tenant = 'acme') => {
  const res = await fetch(api.url + path, {
    method,
    headers: { authorization: `Bearer ${tokens[tenant]}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const recordings = () => new DynamoRecordingStore(dynamo, LOCAL_TABLE_NAME);

/** A room of `tenant` named `name` with a live session held by SERVER, as its media server leaves them. */
async function liveRoom(name: string, tenant = 'acme', placed = true): Promise<{ roomId: string; sessionId: string }> {
  const room = await call('POST', '/v2/rooms', { customRoomId: name }, tenant);
  expect(room.status).toBe(201);
  const roomId = room.body.roomId as string;
  const start = new Date().toISOString();
  const sessionId = newSessionId(Date.parse(start));
  await new DynamoSessionStore(dynamo, LOCAL_TABLE_NAME).start({ tenant, id: sessionId, roomId, customRoomId: name, start, end: null, status: 'ongoing', region: 'us002' }, SERVER, 30);
  if (placed) await new PlacementStore(dynamo, LOCAL_TABLE_NAME).place(tenant, name, { serverId: SERVER, relayUrl: 'ws://127.0.0.1:1', sealedRelaySecret: 'sealed', leaseExpiresAtMs: Date.now() + 600_000 });
  return { roomId, sessionId };
}

/** The commands SERVER's queue holds now (taken, as its poll takes them). */
const commands = (): Promise<MediaCommand[]> => new MediaCommandStore(dynamo, LOCAL_TABLE_NAME).take(SERVER, () => undefined);

/** Ends recording `id` as its media server does: its WAV (a second of 16 kHz silence) in the bucket, its record completed. */
async function finishAsMediaServer(tenant: string, id: string): Promise<Buffer> {
  const recording = await recordings().get(tenant, id);
  const wav = Buffer.alloc(44 + 32_000);
  wav.write('RIFF', 0, 'ascii');
  await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: recording?.key, Body: wav }));
  await recordings().finish(tenant, id, { status: 'completed', end: new Date().toISOString(), reason: null, size: wav.length, duration: 1 });
  return wav;
}

const exists = async (key: string) =>
  s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).then(
    () => true,
    () => false,
  );

describe('recordings API', () => {
  it("starts a room recording in VideoSDK's shape, under the room's server, and tells that server; one at a time per room", async () => {
    const { roomId, sessionId } = await liveRoom('rec-start');
    await commands();
    const started = await call('POST', '/v2/recordings/start', { roomId: 'rec-start', awsDirPath: 'calls/2026-12' });
    expect(started).toEqual({ status: 200, body: { recordingId: expect.stringMatching(/^rec_[0-9a-hjkmnp-tv-z]{29}$/), roomId, sessionId, status: 'recording' } });
    const id = started.body.recordingId as string;
    expect(await commands()).toEqual([expect.objectContaining({ type: 'start-recording', tenant: 'acme', roomId: 'rec-start', recordingId: id })]);
    expect(await recordings().get('acme', id)).toMatchObject({
      kind: 'room',
      status: 'recording',
      roomId,
      customRoomId: 'rec-start',
      sessionId,
      serverId: SERVER,
      region: 'us002',
      awsRegion: 'us-east-1',
      bucket: BUCKET,
      key: `acme/calls/2026-12/${roomId}/${sessionId}/${id}.wav`,
      webhookUrl: null,
    });
    const view = await call('GET', `/v2/recordings/${id}`);
    expect(view.body).toEqual({
      id,
      roomId,
      customRoomId: 'rec-start',
      sessionId,
      callId: null,
      kind: 'room',
      status: 'recording',
      start: expect.any(String),
      end: null,
      reason: null,
      file: { fileUrl: null, size: null, duration: null, format: 'wav', channels: 1, sampleRate: expect.any(Number) },
    });
    // The room is recording: a second start is refused, by its roomId too.
    for (const ref of ['rec-start', roomId]) expect(await call('POST', '/v2/recordings/start', { roomId: ref })).toMatchObject({ status: 409, body: { code: 'conflict', message: expect.stringContaining('being recorded already') } });
    expect(await commands()).toEqual([]);
  });

  it('ends it through its server, answering it ended with a presigned URL to its WAV; a GET signs another; ends are refused after', async () => {
    const { roomId } = await liveRoom('rec-end');
    const id = (await call('POST', '/v2/recordings/start', { roomId: 'rec-end' })).body.recordingId as string;
    await commands();
    // The media server ends it a moment after the command.
    const written = new Promise<Buffer>((resolve) => setTimeout(() => resolve(finishAsMediaServer('acme', id)), 400));
    const ended = await call('POST', '/v2/recordings/end', { roomId: 'rec-end' });
    const wav = await written;
    expect(ended.status).toBe(200);
    expect(ended.body).toMatchObject({ id, roomId, status: 'completed', end: expect.any(String), file: { size: wav.length, duration: 1, fileUrl: expect.stringContaining(`/${BUCKET}/`) } });
    expect((await commands()).map((c) => [c.type, 'recordingId' in c && c.recordingId])).toEqual([['stop-recording', id]]);
    const view = (await call('GET', `/v2/recordings/${id}`)).body as unknown as RecordingView;
    const fileUrl = view.file.fileUrl as string;
    expect(new URL(fileUrl).searchParams.get('X-Amz-Expires')).toBe('120');
    const download = await fetch(fileUrl);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(wav);
    // Ended: the room has no recording to end, and this one is over.
    expect(await call('POST', '/v2/recordings/end', { roomId: 'rec-end' })).toMatchObject({ status: 404, body: { message: 'Room rec-end is not being recorded', code: 'not_found' } });
    expect(await call('POST', '/v2/recordings/end', { roomId: 'rec-end', id })).toMatchObject({ status: 409, body: { code: 'conflict' } });
    // The room records again.
    expect((await call('POST', '/v2/recordings/start', { roomId: 'rec-end' })).status).toBe(200);
  });

  it('answers an end as the recording stands when its server records nothing within 3 s; a call recording is ended by its id', async () => {
    const { roomId, sessionId } = await liveRoom('rec-slow');
    const id = (await call('POST', '/v2/recordings/start', { roomId: 'rec-slow' })).body.recordingId as string;
    const callRecording = {
      ...((await recordings().get('acme', id)) as Recording),
      id: `rec_${'0'.repeat(28)}1`,
      kind: 'call' as const,
      callId: 'call_1',
      key: `acme/${roomId}/${sessionId}/call.wav`,
    };
    await recordings().create(callRecording, 30);
    await commands();
    const startedMs = Date.now();
    expect(await call('POST', '/v2/recordings/end', { roomId: 'rec-slow', id: callRecording.id })).toMatchObject({ status: 200, body: { id: callRecording.id, kind: 'call', callId: 'call_1', status: 'recording' } });
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(2_900);
    expect((await commands()).map((c) => [c.type, 'recordingId' in c && c.recordingId])).toEqual([['stop-recording', callRecording.id]]);
    // Another room's recording is not this room's to end.
    await liveRoom('rec-other');
    expect(await call('POST', '/v2/recordings/end', { roomId: 'rec-other', id })).toMatchObject({ status: 404 });
  }, 15_000);

  it('lists newest first, by room (roomId or customRoomId) and session, paged', async () => {
    const token = 'lister';
    tokens[token] = await mintToken(await new TenantStore(dynamo, LOCAL_TABLE_NAME, new SecretBox(kmsClient({ region: 'us-east-1', kmsEndpoint: aws.kmsEndpoint }), LOCAL_KMS_KEY_ID)).ensureSecret(token), { apikey: token, ttlSeconds: 3600 });
    const first = await liveRoom('list-a', token);
    const a1 = (await call('POST', '/v2/recordings/start', { roomId: 'list-a' }, token)).body.recordingId as string;
    await finishAsMediaServer(token, a1);
    const a2 = (await call('POST', '/v2/recordings/start', { roomId: 'list-a' }, token)).body.recordingId as string;
    await liveRoom('list-b', token);
    const b1 = (await call('POST', '/v2/recordings/start', { roomId: 'list-b' }, token)).body.recordingId as string;
    const list = async (query: string) => (await call('GET', `/v2/recordings?${query}`, undefined, token)).body as unknown as NumberedList<RecordingView>;
    const all = await list('perPage=2');
    expect(all.data.map((r) => r.id)).toEqual([b1, a2]);
    expect(all.pageInfo).toEqual({ currentPage: 1, perPage: 2, lastPage: 2, total: 3 });
    // A listing signs no URLs: `GET /v2/recordings/{id}` does.
    expect((await list('roomId=list-a')).data.map((r) => [r.id, r.file.fileUrl])).toEqual([[a2, null], [a1, null]]);
    expect((await list(`roomId=${first.roomId}`)).data.map((r) => r.id)).toEqual([a2, a1]);
    expect((await list(`sessionId=${first.sessionId}`)).data.map((r) => r.id)).toEqual([a2, a1]);
    expect((await list('roomId=no-such-room')).data).toEqual([]);
    for (const bad of ['sessionId=nope', 'roomId=a%20b', 'perPage=101', 'status=recording']) expect([bad, (await call('GET', `/v2/recordings?${bad}`, undefined, token)).status]).toEqual([bad, 400]);
  });

  it('deletes an ended recording, its WAV first; refuses one still recording', async () => {
    await liveRoom('rec-delete');
    const id = (await call('POST', '/v2/recordings/start', { roomId: 'rec-delete' })).body.recordingId as string;
    expect(await call('DELETE', `/v2/recordings/${id}`)).toMatchObject({ status: 409, body: { code: 'conflict', message: expect.stringContaining('still recording') } });
    await finishAsMediaServer('acme', id);
    const key = (await recordings().get('acme', id))?.key as string;
    expect(await exists(key)).toBe(true);
    expect(await call('DELETE', `/v2/recordings/${id}`, undefined, 'globex')).toMatchObject({ status: 404 });
    expect(await exists(key)).toBe(true);
    expect(await call('DELETE', `/v2/recordings/${id}`)).toEqual({ status: 200, body: { message: 'Recording deleted successfully' } });
    expect(await exists(key)).toBe(false);
    expect(await call('GET', `/v2/recordings/${id}`)).toMatchObject({ status: 404 });
    expect(await call('DELETE', `/v2/recordings/${id}`)).toMatchObject({ status: 404 });
  });

  it("keeps recordings to their tenant: another tenant's id is 404 everywhere, its rooms unknown, its listing empty", async () => {
    await liveRoom('rec-private');
    const id = (await call('POST', '/v2/recordings/start', { roomId: 'rec-private' })).body.recordingId as string;
    const notFound = { status: 404, body: { message: `Recording ${id} not found`, code: 'not_found' } };
    expect(await call('GET', `/v2/recordings/${id}`, undefined, 'globex')).toEqual(notFound);
    expect(await call('DELETE', `/v2/recordings/${id}`, undefined, 'globex')).toEqual(notFound);
    for (const [path, body] of [
      ['/v2/recordings/start', { roomId: 'rec-private' }],
      ['/v2/recordings/end', { roomId: 'rec-private' }],
      ['/v2/recordings/end', { roomId: 'rec-private', id }],
    ] as const) expect((await call('POST', path, body, 'globex')).body).toEqual({ message: 'Room rec-private not found', code: 'not_found' });
    expect(((await call('GET', '/v2/recordings?roomId=rec-private', undefined, 'globex')).body as unknown as NumberedList<unknown>).data).toEqual([]);
    expect(await recordings().get('acme', id)).toMatchObject({ status: 'recording' });
  });

  it('refuses bad bodies with 400, unknown rooms with 404, rooms without a live session (or its server) with 409', async () => {
    await liveRoom('rec-valid');
    for (const [body, field] of [
      [{}, 'roomId'],
      [{ roomId: 'a b' }, 'roomId'],
      [{ roomId: 'rec-valid', extra: 1 }, ''],
      [{ roomId: 'rec-valid', awsDirPath: '../escape' }, 'awsDirPath'],
      [{ roomId: 'rec-valid', awsDirPath: 'a/../b' }, 'awsDirPath'],
      [{ roomId: 'rec-valid', awsDirPath: '/leading' }, 'awsDirPath'],
      [{ roomId: 'rec-valid', awsDirPath: 'trailing/' }, 'awsDirPath'],
      [{ roomId: 'rec-valid', awsDirPath: 'a//b' }, 'awsDirPath'],
      [{ roomId: 'rec-valid', awsDirPath: 'white space' }, 'awsDirPath'],
      [{ roomId: 'rec-valid', awsDirPath: '' }, 'awsDirPath'],
      [{ roomId: 'rec-valid', awsDirPath: 'x'.repeat(257) }, 'awsDirPath'],
      [{ roomId: 'rec-valid', webhookUrl: 'ftp://hooks.example.com/x' }, 'webhookUrl'],
      [{ roomId: 'rec-valid', webhookUrl: 'https://user:secret@hooks.example.com/x' }, 'webhookUrl'],
    ] as const) {
      const res = await call('POST', '/v2/recordings/start', body);
      expect([body, res.status, res.body.code]).toEqual([body, 400, 'bad_request']);
      if (field) expect((res.body.errors as { field: string }[]).map((e) => e.field)).toContain(field);
    }
    expect(await recordings().active('acme', (await call('GET', '/v2/rooms/rec-valid')).body.roomId as string)).toBeNull();
    expect(await call('POST', '/v2/recordings/start', { roomId: 'never-made' })).toEqual({ status: 404, body: { message: 'Room never-made not found', code: 'not_found' } });
    await call('POST', '/v2/rooms', { customRoomId: 'rec-empty' });
    expect(await call('POST', '/v2/recordings/start', { roomId: 'rec-empty' })).toMatchObject({ status: 409, body: { code: 'conflict', message: expect.stringContaining('has no live session') } });
    // Its session's server died (no placement): nobody would record it.
    await liveRoom('rec-orphan', 'acme', false);
    expect(await call('POST', '/v2/recordings/start', { roomId: 'rec-orphan' })).toMatchObject({ status: 409, body: { code: 'conflict', message: expect.stringContaining('no live session on a media server') } });
    for (const path of ['/v2/recordings/not-an-id', `/v2/recordings/rec_${'0'.repeat(29)}`]) expect((await call('GET', path)).status).toBe(404);
    for (const body of [{ roomId: 'rec-valid', id: 'nope' }, { id: `rec_${'0'.repeat(29)}` }]) expect((await call('POST', '/v2/recordings/end', body)).status).toBe(400);
  });

  it("names a call's recordings in its additionalDetails", async () => {
    const calls = new DynamoCallStore(dynamo, LOCAL_TABLE_NAME);
    const record = endedCall('acme', 7);
    await calls.create(record, 30);
    const shown = async () => ((await call('GET', `/v2/sip/call/${record.id}`)).body.data as CallView).additionalDetails.recordings;
    expect(await shown()).toEqual([]);
    const id = `rec_${'1'.repeat(29)}`;
    await calls.addRecording('acme', record.id, id);
    expect(await shown()).toEqual([id]);
  });

  it("sends a recording's events to the tenant's webhooks subscribed to them and to its own webhookUrl, once each, without a fileUrl", async () => {
    const hook = await call('POST', '/v2/sip/webhooks', { url: 'http://127.0.0.1:9/hooks', events: ['recording-started', 'recording-stopped'] });
    expect(hook.status).toBe(201);
    await liveRoom('rec-events');
    const started = await call('POST', '/v2/recordings/start', { roomId: 'rec-events', webhookUrl: 'http://127.0.0.1:9/own' });
    const id = started.body.recordingId as string;
    const { logger } = memoryLog();
    const events = recordingWebhookPublisher(config, dynamo, logger);
    const begun = await recordings().get('acme', id);
    await events.publish('recording-started', begun!);
    await events.publish('recording-started', begun!);
    await finishAsMediaServer('acme', id);
    const ended = await recordings().get('acme', id);
    await events.publish('recording-stopped', ended!);
    await events.publish('recording-failed', { ...ended!, status: 'failed' });
    const deliveries = new DeliveryLog({ deliveries: webhookStores(config, dynamo).deliveries, queue: null, log: logger });
    const of = async (receiver: string) => (await deliveries.page('acme', receiver, undefined, { page: 1, perPage: 10 })).data.map((d) => [d.event, d.callId, d.payload]);
    const payload = (type: string, recording: typeof ended, at: string) => ({ webhookType: type, timestamp: at, data: expect.objectContaining({ id, status: recording?.status, file: expect.objectContaining({ fileUrl: null }) }) });
    expect(await of(hook.body.id as string)).toEqual([
      ['recording-stopped', null, payload('recording-stopped', ended, ended?.end as string)],
      ['recording-started', null, payload('recording-started', begun, begun?.start as string)],
    ]);
    expect((await of(id)).map(([event]) => event).sort()).toEqual(['recording-failed', 'recording-started', 'recording-stopped']);
    // The worker finds the recording's URL by its id: gone once the recording is deleted.
    const receivers = new DeliveryReceivers(webhookStores(config, dynamo).webhooks, new DynamoRoomStore(dynamo, LOCAL_TABLE_NAME), recordings());
    expect(await receivers.get('acme', id)).toEqual({ tenant: 'acme', id, url: 'http://127.0.0.1:9/own', sealedSecret: null });
    expect(await receivers.get('globex', id)).toBeNull();
    await call('DELETE', `/v2/recordings/${id}`);
    expect(await receivers.get('acme', id)).toBeNull();
  });
});
