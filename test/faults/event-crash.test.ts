import { spawn } from 'node:child_process';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../../core/aws';
import { callIdFor, isRoomEntry, type CallView } from '../../core/calls/model';
import { TABLE_KEYS } from '../../core/dynamo';
import type { CallEventType } from '../../core/events';
import { LOCAL_TABLE_NAME } from '../../local/aws';
import { DEMO_TENANT } from '../../local/stack';
import { NODE_TSX, ROOT, waitFor } from '../support/local-process';
import { answerFields, newCall, plivoRequest } from '../support/plivo';
import { startTestStack, type TestStack } from '../support/stack';
import { startReceiver } from '../support/webhook-receiver';

/**
 * A process that changes a call's state and dies before it records the change's event for the webhooks must
 * not lose the event: the call waits for it in the same write, and the sweeper publishes it after a restart. Nor
 * may it lose either of two changes of one type (a call switched twice) whose events were never recorded. The crash
 * is real: a child process writes the call through the media server's CallLifecycle and SIGKILLs itself where the
 * event would be recorded.
 */
let t: TestStack;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  // The sweeper takes an unrecorded event for lost after this long (15 s locally by default).
  t = await startTestStack({ WEBHOOK_REDRIVE_AFTER_SECONDS: '2' });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await t?.close();
});

/**
 * A webhook of the demo tenant at `url` for `event`, a call routed by the Answer URL, and
 * test/faults/support/change-then-die.ts writing `scenario` on the call until it is killed: the call as it left it.
 */
async function crashedCall(scenario: 'answer' | 'switch-twice', url: string, event: CallEventType): Promise<{ token: string; webhookId: string; call: CallView }> {
  const token = await t.token(DEMO_TENANT);
  const created = await t.api('POST', '/v2/sip/webhooks', { token, body: { url, events: [event] } });
  expect(created.status).toBe(201);
  const webhookId = ((await created.json()) as { id: string }).id;
  const plivoCall = newCall();
  expect((await plivoRequest(t.stack.connector.webhookUrl, answerFields(plivoCall))).status).toBe(200);
  const callId = callIdFor(plivoCall.callUuid);
  const child = spawn(NODE_TSX[0], [...NODE_TSX.slice(1), 'test/faults/support/change-then-die.ts', t.stack.aws.dynamodbEndpoint, DEMO_TENANT, callId, scenario], { cwd: ROOT, stdio: 'inherit' });
  expect(await new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)))).toBe('SIGKILL');
  const call = ((await (await t.api('GET', `/v2/sip/call/${callId}`, { token })).json()) as { data: CallView }).data;
  return { token, webhookId, call };
}

/** The deliveries written for the webhook. */
async function deliveriesOf(token: string, webhookId: string): Promise<unknown[]> {
  return ((await (await t.api('GET', `/v2/sip/webhooks/${webhookId}/deliveries`, { token })).json()) as { data: unknown[] }).data;
}

it('delivers call-answered once after the process died between the call write and the delivery write', async () => {
  const { token, webhookId, call } = await crashedCall('answer', receiver.url, 'call-answered');
  // The state write landed; no delivery was written.
  expect(call.status).toBe('answered');

  const [delivered] = await waitFor(() => (receiver.received.length ? receiver.received : undefined), 30_000);
  expect(delivered?.payload).toMatchObject({ webhookType: 'call-answered', data: { id: call.id, status: 'answered' } });
  // Published once: later sweeps find nothing left to publish.
  await waitFor(() => t.logLines.some((line) => line.includes('"republished":1')) || undefined, 10_000);
  expect(await deliveriesOf(token, webhookId)).toHaveLength(1);
  expect(receiver.received).toHaveLength(1);
}, 60_000);

it('delivers both switch-room-completed events, each once with its own timestamp, after the first was lost and the process died after the second', async () => {
  const switches = await startReceiver();
  const dynamo = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: t.stack.aws.dynamodbEndpoint });
  try {
    const { token, webhookId, call } = await crashedCall('switch-twice', switches.url, 'switch-room-completed');
    // Both moves landed (the call is back in its room); neither event was recorded.
    const completedAt = call.timelog.flatMap((entry) => (isRoomEntry(entry) && entry.event === 'switch-room-completed' ? [entry.at] : []));
    expect(completedAt).toHaveLength(2);

    const delivered = await waitFor(() => (switches.received.length >= 2 ? switches.received : undefined), 30_000);
    expect(delivered.map((d) => ({ type: d.payload.webhookType, id: d.payload.data.id, timestamp: d.payload.timestamp })).sort((a, b) => a.timestamp.localeCompare(b.timestamp))).toEqual(
      completedAt.map((timestamp) => ({ type: 'switch-room-completed', id: call.id, timestamp })),
    );
    // Once each: the call no longer waits for any event nor is in the outbox (nothing is left to publish again), and
    // two deliveries were written.
    const key = { pk: { S: `T#${DEMO_TENANT}` }, sk: { S: `CALL#${call.id}` } };
    await waitFor(async () => {
      const { Item } = await dynamo.send(new GetItemCommand({ TableName: LOCAL_TABLE_NAME, Key: key, ConsistentRead: true }));
      return Item && !Item.pendingEvents && !Item[TABLE_KEYS.outbox.partitionKey] ? true : undefined;
    }, 10_000);
    expect(await deliveriesOf(token, webhookId)).toHaveLength(2);
    expect(switches.received).toHaveLength(2);
  } finally {
    dynamo.destroy();
    await switches.close();
  }
}, 60_000);
