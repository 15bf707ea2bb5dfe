import { GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqsClient } from '../../core/aws';
import { verifyVideosdkSignature } from '../../client/src/webhooks';
import { tone } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { apiRequest, startLocalProcess, waitFor, type LocalProcess } from '../support/local-process';
import { startReceiver } from '../support/webhook-receiver';

/**
 * A webhook receiver that is down (nothing listens on its port) for longer than the whole retry schedule,
 * through `npm start`'s real delivery worker: every event of several calls is dead-lettered, and once the
 * receiver is back where it was, re-driving each dead letter delivers every event. Delivery is at least
 * once: a duplicate may come, but only under the same webhook-id with the same bytes.
 */
const RETRY_DELAYS = [1, 1, 1];
const CALLS = 3;
const EVENTS = ['call-started', 'call-answered', 'call-hangup'];
let dataDir: string;
let stack: LocalProcess;
let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'fault-webhooks-'));
  stack = await startLocalProcess(dataDir, { WEBHOOK_RETRY_DELAYS: RETRY_DELAYS.join(','), WEBHOOK_REDRIVE_AFTER_SECONDS: '2', SWEEP_INTERVAL_SECONDS: '1' });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const api = (method: string, path: string, body?: unknown) => apiRequest(stack, method, path, body);

interface Delivery {
  id: string;
  callId: string;
  event: string;
  status: string;
  attempts: { statusCode: number | null; error: string | null }[];
}

const deliveries = async (webhookId: string, status: string) =>
  (await api('GET', `/v2/sip/webhooks/${webhookId}/deliveries?status=${status}&perPage=100`)).data as unknown as Delivery[];

it('a receiver down past every retry: all events are dead-lettered, and once it is back the re-drive delivers each, signed, under its own webhook-id', async () => {
  // A port with nothing listening on it: the receiver is down from the start.
  const gone = await startReceiver();
  const port = Number(new URL(gone.url).port);
  await gone.close();

  const hook = await api('POST', '/v2/sip/webhooks', { url: gone.url });
  expect(hook.status).toBe(201);
  const webhookId = hook.body.id as string;
  const connector = await api('POST', '/v2/connectors', { provider: 'plivo', defaultRoomId: 'hooks-down' });
  const calls = Array.from({ length: CALLS }, (_, i) => new SimulatedCall({ answerUrl: connector.data.webhookUrl as string, from: `1415555013${i}` }));
  await Promise.all(
    calls.map(async (call) => {
      await call.start();
      await call.play(tone(500, 0.2));
      await call.hangup();
    }),
  );

  // Every event is tried once and after each retry delay, refused each time, then dead-lettered.
  const failed = await waitFor(async () => {
    const list = await deliveries(webhookId, 'failed');
    return list.length === CALLS * EVENTS.length ? list : undefined;
  }, 30_000);
  expect(await deliveries(webhookId, 'pending')).toEqual([]);
  for (const delivery of failed) {
    expect(delivery.attempts).toHaveLength(RETRY_DELAYS.length + 1);
    for (const attempt of delivery.attempts) {
      expect(attempt.statusCode).toBeNull();
      expect(attempt.error).toEqual(expect.any(String));
    }
  }
  const byCall = new Map<string, string[]>();
  for (const delivery of failed) byCall.set(delivery.callId, [...(byCall.get(delivery.callId) ?? []), delivery.event]);
  expect(byCall.size).toBe(CALLS);
  for (const events of byCall.values()) expect(events.sort()).toEqual([...EVENTS].sort());

  // The dead-letter queue names every one of them.
  const sqs = sqsClient({ region: 'us-east-1', sqsEndpoint: stack.info.aws.sqsEndpoint });
  try {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'plivo-connector-webhooks-dlq' }));
    const named = new Set<string>();
    for (let i = 0; i < 5 && named.size < failed.length; i++) {
      const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 30 }));
      for (const message of Messages ?? []) named.add((JSON.parse(message.Body ?? '{}') as { deliveryId?: string }).deliveryId ?? '');
    }
    expect([...named].sort()).toEqual(failed.map((d) => d.id).sort());
  } finally {
    sqs.destroy();
  }

  // The receiver comes back where it was; the operator re-drives each dead letter (docs/webhooks.md).
  const hooks = (receiver = await startReceiver(() => 200, port));
  for (const delivery of failed) {
    const retry = await api('POST', `/v2/sip/webhooks/${webhookId}/deliveries/${delivery.id}/retry`);
    expect(retry.status).toBe(202);
  }
  const delivered = await waitFor(async () => {
    const list = await deliveries(webhookId, 'delivered');
    return list.length === failed.length ? list : undefined;
  }, 20_000);
  for (const delivery of delivered) expect(delivery.attempts.map((a) => a.statusCode)).toEqual([null, null, null, null, 200]);
  expect(await deliveries(webhookId, 'failed')).toEqual([]);
  await new Promise((resolve) => setTimeout(resolve, 500));

  // None lost: every delivery's webhook-id came, and nothing else did. A duplicate would be the same event
  // again (same id, same bytes), as at-least-once allows.
  const ids = hooks.received.map((r) => r.headers['webhook-id'] as string);
  expect([...new Set(ids)].sort()).toEqual(failed.map((d) => d.id).sort());
  const bodyOf = new Map<string, Buffer>();
  for (const hook of hooks.received) {
    const id = hook.headers['webhook-id'] as string;
    const first = bodyOf.get(id);
    if (first) expect(hook.body.equals(first)).toBe(true);
    else bodyOf.set(id, hook.body);
  }
  const publicKey = ((await (await fetch(`${stack.info.apiUrl}/v2/public/rsa-public-key`)).json()) as { publicKey: string }).publicKey;
  for (const hook of hooks.received) expect(verifyVideosdkSignature(hook.body, hook.headers['videosdk-signature'] as string, publicKey)).toBe(true);

  // Per call, the three events, in the order their timestamps give (deliveries are independent and may
  // arrive in any order: docs/webhooks.md promises the timestamps, not the arrival order).
  for (const call of calls) {
    const ours = [...bodyOf.values()]
      .map((body) => JSON.parse(body.toString('utf8')) as { webhookType: string; timestamp: string; data: { additionalDetails: { callUuid: string } } })
      .filter((payload) => payload.data.additionalDetails.callUuid === call.callUuid)
      .sort((x, y) => x.timestamp.localeCompare(y.timestamp));
    expect(ours.map((payload) => payload.webhookType)).toEqual(EVENTS);
  }
}, 60_000);
