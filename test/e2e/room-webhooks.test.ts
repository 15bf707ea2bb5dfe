import { GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoClient, sqsClient } from '../../core/aws';
import type { RoomWebhookEvent } from '../../core/room-records/schema';
import { DynamoRoomStore } from '../../core/room-records/store';
import { RoomWebhookPublisher } from '../../core/room-records/webhooks';
import type { SessionEvent } from '../../core/sessions/events';
import { DeliveryQueue } from '../../core/webhooks/queue';
import { verifyVideosdkSignature } from '../../client/src/webhooks';
import { DeliveryStore } from '../../core/webhooks/store';
import { LOCAL_TABLE_NAME, LOCAL_WEBHOOK_QUEUE } from '../../local/aws';
import { waitFor } from '../support/local-process';
import { memoryLog, startTestStack, type TestStack } from '../support/stack';
import { startReceiver, type Answer } from '../support/webhook-receiver';

/**
 * A room's `webhook` gets the session events the media server publishes (`RoomWebhookPublisher`, as a media server
 * builds it, over the stack's table and webhook queue), on the path call events take: `npm start`'s own delivery worker
 * signs them with the KMS emulator's key, POSTs and retries them; its sweeper queues one whose message was lost.
 */
const RETRY_DELAYS = [1, 1, 1];
let t: TestStack;
let dynamo: DynamoDBClient;
let sqs: SQSClient;
let queueUrl: string;
let deliveries: DeliveryStore;
let tokens: { a: string; b: string };
const receivers: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  t = await startTestStack({ WEBHOOK_RETRY_DELAYS: RETRY_DELAYS.join(','), WEBHOOK_REDRIVE_AFTER_SECONDS: '2', SWEEP_INTERVAL_SECONDS: '1' });
  const aws = { region: 'us-east-1', dynamodbEndpoint: t.stack.aws.dynamodbEndpoint, sqsEndpoint: t.stack.aws.sqsEndpoint };
  dynamo = dynamoClient(aws);
  sqs = sqsClient(aws);
  queueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: LOCAL_WEBHOOK_QUEUE }))).QueueUrl as string;
  deliveries = new DeliveryStore(dynamo, LOCAL_TABLE_NAME, { retentionDays: 1, redriveAfterSeconds: 2 });
  tokens = { a: await t.token('rooms-a'), b: await t.token('rooms-b') };
}, 30_000);

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  sqs?.destroy();
  dynamo?.destroy();
  await t?.close();
});

/** A media server's publisher over the stack's table and queue (`queue`: another, to lose its messages). */
function publisher(queue = new DeliveryQueue(sqs, queueUrl), rooms = new DynamoRoomStore(dynamo, LOCAL_TABLE_NAME)) {
  const log = memoryLog();
  return { log: log.lines, publisher: new RoomWebhookPublisher({ rooms, deliveries, queue, cacheMs: 1000, log: log.logger }) };
}

async function receiver(answer?: Answer, port?: number) {
  const started = await startReceiver(answer, port);
  receivers.push(started);
  return started;
}

async function room(token: string, customRoomId: string, webhook?: { endPoint: string; events: RoomWebhookEvent[] }): Promise<{ id: string; roomId: string }> {
  const res = await t.api('POST', '/v2/rooms', { token, body: { customRoomId, ...(webhook && { webhook }) } });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; roomId: string };
}

let events = 0;
/** A session event of `roomName`, with its own `eventId` unless it repeats one. */
function sessionEvent(type: RoomWebhookEvent, tenant: string, roomName: string, eventId = `ses_${++events}`): SessionEvent {
  const data = type.startsWith('session') ? { id: eventId, roomId: roomName, status: type === 'session-ended' ? 'ended' : 'ongoing' } : { participantId: `p${events}`, sessionId: eventId, roomId: roomName, kind: 'web' };
  return { type, tenant, roomName, eventId, data, timestamp: new Date().toISOString() };
}

const publicKey = async () => ((await (await t.api('GET', '/v2/public/rsa-public-key')).json()) as { publicKey: string }).publicKey;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('delivers the events the room subscribes to, signed by the KMS key, as {webhookType, data, timestamp}; not the others', async () => {
  const hooks = await receiver();
  const { id } = await room(tokens.a, 'hooked-room', { endPoint: hooks.url, events: ['session-started', 'participant-left'] });
  const { publisher: sink } = publisher();
  const sent = (['session-started', 'participant-joined', 'participant-left', 'session-ended'] as const).map((type) => sessionEvent(type, 'rooms-a', 'hooked-room'));
  // Fire and forget: publish returns before anything is read or written.
  for (const event of sent) expect(sink.publish(event)).toBeUndefined();
  await sink.settled();
  await waitFor(() => (hooks.received.length >= 2 ? true : undefined), 10_000);
  await pause(1500);

  expect(hooks.received.map((r) => r.payload.webhookType as string).sort()).toEqual(['participant-left', 'session-started']);
  const pem = await publicKey();
  for (const hook of hooks.received) {
    const event = sent.find((e) => (e.type as string) === hook.payload.webhookType) as SessionEvent;
    expect(JSON.parse(hook.body.toString('utf8'))).toEqual({ webhookType: event.type, data: event.data, timestamp: event.timestamp });
    expect(verifyVideosdkSignature(hook.body, hook.headers['videosdk-signature'] as string, pem)).toBe(true);
    const tampered = Buffer.from(hook.body);
    tampered[5] = (tampered[5] as number) ^ 1;
    expect(verifyVideosdkSignature(tampered, hook.headers['videosdk-signature'] as string, pem)).toBe(false);
    expect(hook.headers['webhook-id']).toMatch(/^whd_[0-9a-z]{16}$/);
    // A room's webhook has no Standard Webhooks secret: videosdk-signature alone.
    expect(hook.headers['webhook-signature']).toBeUndefined();
    expect(hook.headers['content-type']).toBe('application/json');
  }
  // The records are the call events' records, filed under the room record's id.
  const page = await deliveries.page('rooms-a', id, undefined, { page: 1, perPage: 10 });
  expect(page.data.map((d) => ({ event: d.event, status: d.status, callId: d.callId })).sort((x, y) => x.event.localeCompare(y.event))).toEqual([
    { event: 'participant-left', status: 'delivered', callId: null },
    { event: 'session-started', status: 'delivered', callId: null },
  ]);
}, 30_000);

it('delivers nothing for a room without a webhook, nor for another tenant’s room of the same name', async () => {
  const hooks = await receiver();
  await room(tokens.a, 'shared-name', { endPoint: hooks.url, events: ['session-started', 'session-ended'] });
  await room(tokens.b, 'shared-name');
  await room(tokens.a, 'plain-room');
  const { publisher: sink } = publisher();
  sink.publish(sessionEvent('session-started', 'rooms-b', 'shared-name'));
  sink.publish(sessionEvent('session-started', 'rooms-a', 'plain-room'));
  // A tenant with no room of that name at all (never created, never used).
  sink.publish(sessionEvent('session-started', 'rooms-c', 'shared-name'));
  await sink.settled();
  // Then the room that has a webhook: the path delivers while the others sent nothing.
  const control = sessionEvent('session-ended', 'rooms-a', 'shared-name');
  sink.publish(control);
  await waitFor(() => (hooks.received.length >= 1 ? true : undefined), 10_000);
  await pause(1500);
  expect(hooks.received.map((r) => r.payload.data)).toEqual([control.data]);
}, 30_000);

it('retries a receiver that fails: the same webhook-id and bytes again after the first retry delay', async () => {
  const hooks = await receiver((n) => (n === 0 ? 503 : 200));
  const { id } = await room(tokens.a, 'flaky-receiver', { endPoint: hooks.url, events: ['participant-joined'] });
  const { publisher: sink } = publisher();
  sink.publish(sessionEvent('participant-joined', 'rooms-a', 'flaky-receiver'));
  await waitFor(() => (hooks.received.length >= 2 ? true : undefined), 15_000);
  const [first, second] = hooks.received as [(typeof hooks.received)[0], (typeof hooks.received)[0]];
  expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
  expect(second.body.equals(first.body)).toBe(true);
  expect(second.at - first.at).toBeGreaterThanOrEqual((RETRY_DELAYS[0] as number) * 1000 - 100);
  const delivered = await waitFor(async () => {
    const [delivery] = (await deliveries.page('rooms-a', id, 'delivered', { page: 1, perPage: 10 })).data;
    return delivery;
  }, 5000);
  expect(delivered.attempts.map((a) => a.statusCode)).toEqual([503, 200]);
}, 30_000);

it('a session event published twice (a media server retrying, say) is delivered once', async () => {
  const hooks = await receiver();
  const { id } = await room(tokens.a, 'twice-room', { endPoint: hooks.url, events: ['session-ended'] });
  const { publisher: sink, log } = publisher();
  const event = sessionEvent('session-ended', 'rooms-a', 'twice-room');
  sink.publish(event);
  sink.publish(event);
  await sink.settled();
  sink.publish({ ...event });
  await sink.settled();
  await waitFor(() => (hooks.received.length >= 1 ? true : undefined), 10_000);
  await pause(1500);
  expect(hooks.received).toHaveLength(1);
  expect((await deliveries.page('rooms-a', id, undefined, { page: 1, perPage: 10 })).data).toHaveLength(1);
  expect(log.filter((line) => line.includes('room event was recorded for its webhook already'))).toHaveLength(2);
}, 30_000);

it('a delivery whose queue message never went out is queued by the sweeper and delivered', async () => {
  const hooks = await receiver();
  await room(tokens.a, 'lost-message', { endPoint: hooks.url, events: ['session-started'] });
  const { publisher: sink, log } = publisher(new DeliveryQueue(sqs, `${queueUrl}-gone`));
  sink.publish(sessionEvent('session-started', 'rooms-a', 'lost-message'));
  await sink.settled();
  expect(log.some((line) => line.includes('deliveries recorded but not queued; the sweeper queues them'))).toBe(true);
  // Due WEBHOOK_REDRIVE_AFTER_SECONDS (2 s) after it was written; the sweeper runs every second.
  await waitFor(() => (hooks.received.length >= 1 ? true : undefined), 15_000);
  expect(hooks.received[0]?.payload.webhookType).toBe('session-started');
}, 30_000);

it('lists a room’s deliveries under /v2/rooms/{id}/deliveries, re-drives a dead-lettered one, and shows another tenant none of it', async () => {
  // Down from the start: every attempt is refused, and the delivery is dead-lettered after the last retry.
  const gone = await startReceiver();
  const port = Number(new URL(gone.url).port);
  await gone.close();
  const { id, roomId } = await room(tokens.a, 'redriven-room', { endPoint: gone.url, events: ['session-ended'] });
  const { publisher: sink } = publisher();
  sink.publish(sessionEvent('session-ended', 'rooms-a', 'redriven-room'));
  const list = async (ref: string, query = '', token = tokens.a) => {
    const res = await t.api('GET', `/v2/rooms/${ref}/deliveries${query}`, { token });
    return { status: res.status, body: (await res.json()) as { data: { id: string; webhookId: string; event: string; callId: null; status: string; attempts: { statusCode: number | null }[]; payload: { webhookType: string } }[] } };
  };
  const failed = await waitFor(async () => (await list(id, '?status=failed')).body.data[0], 15_000);
  expect(failed).toMatchObject({ webhookId: id, event: 'session-ended', callId: null, payload: { webhookType: 'session-ended' } });
  expect(failed.attempts).toHaveLength(RETRY_DELAYS.length + 1);
  // The room by any of its names; the same delivery by its id.
  for (const ref of [roomId, 'redriven-room']) expect((await list(ref)).body.data.map((d) => d.id)).toEqual([failed.id]);
  const one = await t.api('GET', `/v2/rooms/redriven-room/deliveries/${failed.id}`, { token: tokens.a });
  expect({ status: one.status, id: ((await one.json()) as { id: string }).id }).toEqual({ status: 200, id: failed.id });

  // Another tenant: its own room of that name has none, and the first tenant's room and delivery are not found.
  await room(tokens.b, 'redriven-room');
  expect((await list('redriven-room', '', tokens.b)).body.data).toEqual([]);
  expect((await list(id, '', tokens.b)).status).toBe(404);
  expect((await t.api('POST', `/v2/rooms/${id}/deliveries/${failed.id}/retry`, { token: tokens.b })).status).toBe(404);
  expect((await t.api('POST', `/v2/rooms/redriven-room/deliveries/${failed.id}/retry`, { token: tokens.b })).status).toBe(404);

  // The receiver comes back where it was; the re-drive delivers the same event under the same webhook-id.
  const hooks = await receiver(undefined, port);
  const retry = await t.api('POST', `/v2/rooms/redriven-room/deliveries/${failed.id}/retry`, { token: tokens.a });
  expect({ status: retry.status, delivery: await retry.json() }).toMatchObject({ status: 202, delivery: { id: failed.id, status: 'pending' } });
  await waitFor(() => (hooks.received.length >= 1 ? true : undefined), 10_000);
  expect(hooks.received[0]?.headers['webhook-id']).toBe(failed.id);
  const delivered = await waitFor(async () => (await list(id, '?status=delivered')).body.data[0], 5000);
  expect(delivered.attempts.map((a) => a.statusCode)).toEqual([null, null, null, null, 200]);
  expect((await t.api('POST', `/v2/rooms/redriven-room/deliveries/${failed.id}/retry`, { token: tokens.a })).status).toBe(409);
}, 40_000);

it('never throws and never waits: a table that does not answer is logged with the tenant, room and event', async () => {
  const down = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: 'http://127.0.0.1:1' });
  try {
    const { publisher: sink, log } = publisher(new DeliveryQueue(sqs, queueUrl), new DynamoRoomStore(down, LOCAL_TABLE_NAME));
    const started = Date.now();
    expect(() => sink.publish(sessionEvent('participant-left', 'rooms-a', 'hooked-room', 'ses_down'))).not.toThrow();
    expect(Date.now() - started).toBeLessThan(50);
    await sink.settled();
    const line = log.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'room event not recorded for its webhook');
    expect(line).toMatchObject({ level: 'error', tenant: 'rooms-a', roomName: 'hooked-room', event: 'participant-left', eventId: 'ses_down' });
  } finally {
    down.destroy();
  }
}, 30_000);
