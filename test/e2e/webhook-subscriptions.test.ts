import { RoomNames } from '../../core/room-records/service';
import { DynamoRoomStore } from '../../core/room-records/store';
import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AnswerService } from '../../core/answer';
import { dynamoClient, kmsClient } from '../../core/aws';
import { callIdFor } from '../../core/calls/model';
import { DynamoCallStore } from '../../core/calls/store';
import { ClaimStore, type Claim } from '../../core/claims';
import { DynamoConnectorStore } from '../../core/connectors/store';
import { TABLE_KEYS } from '../../core/dynamo';
import type { CallEvent, CallEventType } from '../../core/events';
import { DynamoRoutingRuleStore } from '../../core/routing/store';
import { DynamoAgentStore } from '../../core/agents/store';
import { SecretBox } from '../../core/secret-box';
import { WebhookCache } from '../../core/webhooks/cache';
import { subscribedEvents } from '../../core/webhooks/model';
import { DynamoWebhookStore } from '../../core/webhooks/store';
import { CallLifecycle } from '../../ingest-container/src/calls/lifecycle';
import { LOCAL_KMS_KEY_ID, LOCAL_TABLE_NAME } from '../../local/aws';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { waitFor } from '../support/local-process';
import { answerFields, newCall } from '../support/plivo';
import { memoryLog, startTestStack, type TestStack } from '../support/stack';
import { startReceiver } from '../support/webhook-receiver';

/**
 * A call's state write waits in the outbox for its event only when a webhook of the tenant subscribes to it
 * (`docs/webhooks.md`). The writers here are the real ones (the Answer URL's service, the media server's lifecycle)
 * over the stack's table, but their events go to a sink that records them and publishes nothing: what a crash right
 * after the write leaves. The stack's own sweeper then publishes whatever waits in the outbox.
 */
const CACHE_SECONDS = 1;
let t: TestStack;
let dynamo: DynamoDBClient;

beforeAll(async () => {
  t = await startTestStack({ WEBHOOK_CACHE_SECONDS: String(CACHE_SECONDS), WEBHOOK_REDRIVE_AFTER_SECONDS: '2' });
  const aws = { region: 'us-east-1', dynamodbEndpoint: t.stack.aws.dynamodbEndpoint, kmsEndpoint: t.stack.aws.kmsEndpoint };
  dynamo = dynamoClient(aws);
});
afterAll(async () => {
  dynamo?.destroy();
  await t?.close();
});

/** A sink that records each event with whether its write outboxed it, and publishes nothing (the writer died). */
function deadSink() {
  const published: { type: CallEventType; outboxed: boolean }[] = [];
  return { published, publish: (event: CallEvent, outboxed: boolean) => Promise.resolve(void published.push({ type: event.type, outboxed })) };
}

function answerService(events: ReturnType<typeof deadSink>): AnswerService {
  const box = new SecretBox(kmsClient({ region: 'us-east-1', kmsEndpoint: t.stack.aws.kmsEndpoint }), LOCAL_KMS_KEY_ID);
  return new AnswerService({
    connectors: new DynamoConnectorStore(dynamo, LOCAL_TABLE_NAME),
    rules: new DynamoRoutingRuleStore(dynamo, LOCAL_TABLE_NAME),
    agents: new DynamoAgentStore(dynamo, LOCAL_TABLE_NAME),
    calls: new DynamoCallStore(dynamo, LOCAL_TABLE_NAME),
    rooms: new RoomNames(new DynamoRoomStore(dynamo, LOCAL_TABLE_NAME), memoryLog().logger),
    claims: new ClaimStore(() => ({ dynamo, tableName: LOCAL_TABLE_NAME })),
    box,
    events,
    config: { mediaRegions: [{ id: 'us002', ingestUrl: 'ws://127.0.0.1:1', claimsTable: LOCAL_TABLE_NAME, recordingsBucket: 'recordings' }], homeMediaRegion: 'us002', countryRegions: {}, claimTtlSeconds: 90, callRetentionDays: 1 },
    log: memoryLog().logger,
  });
}

function lifecycle(events: ReturnType<typeof deadSink>): CallLifecycle {
  const cache = new WebhookCache(new DynamoWebhookStore(dynamo, LOCAL_TABLE_NAME), CACHE_SECONDS * 1000);
  return new CallLifecycle({
    calls: new DynamoCallStore(dynamo, LOCAL_TABLE_NAME),
    events,
    subscriptions: { subscribedEvents: async (tenant) => new Set(subscribedEvents(await cache.of(tenant))) },
    retentionDays: 1,
    serverId: 'test-server',
    log: memoryLog().logger,
  });
}

async function tenantWithConnector(tenant: string): Promise<{ token: string; webhookUrl: string }> {
  const token = await t.token(tenant);
  const res = await t.api('POST', '/v2/connectors', { token, body: { provider: 'plivo', defaultRoomId: 'subs-room' } });
  return { token, webhookUrl: ((await res.json()) as { data: { webhookUrl: string } }).data.webhookUrl };
}

async function hook(token: string, url: string, events: CallEventType[]): Promise<string> {
  const res = await t.api('POST', '/v2/sip/webhooks', { token, body: { url, events } });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/** Routes a new call through the Answer URL's service and takes its claim, as the media server does. */
async function routedCall(answers: AnswerService, webhookUrl: string): Promise<Claim> {
  const fields = answerFields(newCall());
  const result = await answers.answer({
    webhookKey: webhookUrl.split('/').pop() as string,
    method: 'POST',
    url: webhookUrl,
    query: new Map(),
    form: new Map(Object.entries(fields).map(([k, v]) => [k, [v]])),
    headers: {},
  });
  const ref = /ref=([^"<&]+)/.exec(result.xml)?.[1] as string;
  const claim = await new ClaimStore(() => ({ dynamo, tableName: LOCAL_TABLE_NAME })).take('us002', decodeURIComponent(ref), 'test-server');
  if (typeof claim === 'string') throw new Error(`claim not taken: ${claim}`);
  return claim;
}

/** What the call's record holds of the outbox: the events of its pending changes (`type@at`), and whether it is in the outbox index. */
async function outboxOf(tenant: string, callId: string): Promise<{ pending: string[]; indexed: boolean }> {
  const { Item } = await dynamo.send(new GetItemCommand({ TableName: LOCAL_TABLE_NAME, Key: { pk: { S: `T#${tenant}` }, sk: { S: `CALL#${callId}` } }, ConsistentRead: true }));
  return { pending: (Item?.pendingEvents?.SS ?? []).map((change) => change.split('@')[0] ?? change).sort(), indexed: Item?.[TABLE_KEYS.outbox.partitionKey] !== undefined };
}

it('writes no outbox entry for events no webhook subscribes to, from the Answer URL or the media server', async () => {
  const { webhookUrl } = await tenantWithConnector('quiet');
  const sink = deadSink();
  const claim = await routedCall(answerService(sink), webhookUrl);
  expect(claim.events).toEqual([]);
  const calls = lifecycle(sink);
  await calls.answered('quiet', claim.callId, claim.events);
  await calls.ended('quiet', claim.callId, 'caller-hangup', Date.now(), claim.events);
  expect(sink.published).toEqual([
    { type: 'call-started', outboxed: false },
    { type: 'call-answered', outboxed: false },
    { type: 'call-hangup', outboxed: false },
  ]);
  // Nothing was published, and nothing waits: there was nothing to publish.
  expect(await outboxOf('quiet', claim.callId)).toEqual({ pending: [], indexed: false });
});

it('outboxes the subscribed events alone, and the sweeper publishes them after the writer died', async () => {
  const receiver = await startReceiver();
  try {
    const { token, webhookUrl } = await tenantWithConnector('partly');
    await hook(token, receiver.url, ['call-answered']);
    const sink = deadSink();
    const claim = await routedCall(answerService(sink), webhookUrl);
    expect(claim.events).toEqual(['call-answered']);
    await lifecycle(sink).answered('partly', claim.callId, claim.events);
    expect(sink.published).toEqual([
      { type: 'call-started', outboxed: false },
      { type: 'call-answered', outboxed: true },
    ]);
    expect(await outboxOf('partly', claim.callId)).toEqual({ pending: ['call-answered'], indexed: true });
    const [delivered] = await waitFor(() => (receiver.received.length ? receiver.received : undefined), 15_000);
    expect(delivered?.payload).toMatchObject({ webhookType: 'call-answered', data: { id: claim.callId, status: 'answered' } });
    await waitFor(async () => ((await outboxOf('partly', claim.callId)).indexed ? undefined : true), 10_000);
  } finally {
    await receiver.close();
  }
}, 40_000);

it(`outboxes the later events of a call for a webhook created during it, from ${CACHE_SECONDS} s (WEBHOOK_CACHE_SECONDS) on`, async () => {
  const receiver = await startReceiver();
  try {
    const { token, webhookUrl } = await tenantWithConnector('latecomer');
    const sink = deadSink();
    const claim = await routedCall(answerService(sink), webhookUrl);
    const calls = lifecycle(sink);
    await calls.answered('latecomer', claim.callId, claim.events);
    await hook(token, receiver.url, ['call-hangup']);
    await new Promise((r) => setTimeout(r, CACHE_SECONDS * 1000 + 100));
    await calls.ended('latecomer', claim.callId, 'caller-hangup', Date.now(), claim.events);
    expect(sink.published.map((p) => p.outboxed)).toEqual([false, false, true]);
    expect(await outboxOf('latecomer', claim.callId)).toEqual({ pending: ['call-hangup'], indexed: true });
    const [delivered] = await waitFor(() => (receiver.received.length ? receiver.received : undefined), 15_000);
    expect(delivered?.payload).toMatchObject({ webhookType: 'call-hangup', data: { id: claim.callId, additionalDetails: { hangupReason: 'caller-hangup' } } });
  } finally {
    await receiver.close();
  }
}, 40_000);

it('delivers through the real media server an event a webhook was changed to during the call', async () => {
  const receiver = await startReceiver();
  try {
    const { token, webhookUrl } = await tenantWithConnector('changed');
    const webhookId = await hook(token, receiver.url, ['call-started']);
    const call = new SimulatedCall({ answerUrl: webhookUrl });
    await call.start();
    const callId = callIdFor(call.callUuid);
    const status = async () => ((await (await t.api('GET', `/v2/sip/call/${callId}`, { token })).json()) as { data: { status: string } }).data.status;
    await waitFor(async () => ((await status()) === 'answered' ? true : undefined), 10_000);
    expect((await t.api('PATCH', `/v2/sip/webhooks/${webhookId}`, { token, body: { events: ['call-hangup'] } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, CACHE_SECONDS * 1000 + 100));
    // The stream stops with no hangup POST to the Answer URL: the media server alone ends the call.
    call.send({ event: 'stop', sequenceNumber: 1000, streamId: call.streamId });
    await call.closed();
    const hangup = await waitFor(() => receiver.received.find((r) => r.payload.webhookType === 'call-hangup'), 15_000);
    expect(hangup.payload.data).toMatchObject({ id: callId, status: 'ended', additionalDetails: { hangupReason: 'caller-hangup' } });
    expect(receiver.received.map((r) => r.payload.webhookType)).toEqual(['call-started', 'call-hangup']);
  } finally {
    await receiver.close();
  }
}, 40_000);
