import { spawn } from 'node:child_process';
import { callIdFor } from '../../core/calls/model';
import { DEMO_TENANT } from '../../local/stack';
import { NODE_TSX, ROOT, waitFor } from '../support/local-process';
import { answerFields, newCall, plivoRequest } from '../support/plivo';
import { startTestStack, type TestStack } from '../support/stack';
import { startReceiver } from '../support/webhook-receiver';

/**
 * A process that changes a call's state and dies before it records the change's event for the webhooks must
 * not lose the event: the call waits for it in the same write, and the sweeper publishes it after a restart.
 * The crash is real: a child process writes the call `answered` through the media server's CallLifecycle and
 * SIGKILLs itself where the event would be recorded.
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

function crashAfterAnswer(tenant: string, callId: string): Promise<NodeJS.Signals | null> {
  const child = spawn(NODE_TSX[0], [...NODE_TSX.slice(1), 'test/faults/support/answer-then-die.ts', t.stack.aws.dynamodbEndpoint, tenant, callId], { cwd: ROOT, stdio: 'inherit' });
  return new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
}

it('delivers call-answered once after the process died between the call write and the delivery write', async () => {
  const token = await t.token(DEMO_TENANT);
  const created = await t.api('POST', '/v2/sip/webhooks', { token, body: { url: receiver.url, events: ['call-answered'] } });
  expect(created.status).toBe(201);
  const webhookId = ((await created.json()) as { id: string }).id;
  const call = newCall();
  expect((await plivoRequest(t.stack.connector.webhookUrl, answerFields(call))).status).toBe(200);
  const callId = callIdFor(call.callUuid);

  expect(await crashAfterAnswer(DEMO_TENANT, callId)).toBe('SIGKILL');
  // The state write landed; no delivery was written.
  const record = (await (await t.api('GET', `/v2/sip/call/${callId}`, { token })).json()) as { data: { status: string } };
  expect(record.data.status).toBe('answered');

  const [delivered] = await waitFor(() => (receiver.received.length ? receiver.received : undefined), 30_000);
  expect(delivered?.payload).toMatchObject({ webhookType: 'call-answered', data: { id: callId, status: 'answered' } });
  // Published once: later sweeps find nothing left to publish.
  await waitFor(() => t.logLines.some((line) => line.includes('"republished":1')) || undefined, 10_000);
  const deliveries = (await (await t.api('GET', `/v2/sip/webhooks/${webhookId}/deliveries`, { token })).json()) as { data: unknown[] };
  expect(deliveries.data).toHaveLength(1);
  expect(receiver.received).toHaveLength(1);
}, 60_000);
