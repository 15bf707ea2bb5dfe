import { GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { execFileSync } from 'node:child_process';
import { verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { sqsClient } from '../../core/aws';
import type { CallStatusEntry, CallView } from '../../core/calls/model';
import { verifyVideosdkSignature } from '../../client/src/webhooks';
import { openApiDocument } from '../../lambdas/api/openapi';
import { tone } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { apiRequest, startLocalProcess, waitFor, type LocalProcess } from '../support/local-process';
import { startReceiver } from '../support/webhook-receiver';

/**
 * Lifecycle webhooks end to end through `npm start`'s real process: its SQS emulator, delivery worker
 * and sweeper, KMS-signed POSTs to a real HTTP receiver on this machine.
 */
const RETRY_DELAYS = [1, 2, 3];
let dataDir: string;
let stack: LocalProcess;
let unstreamed: { receiver: Awaited<ReturnType<typeof startReceiver>>; webhookId: string; call: SimulatedCall };

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'e2e-webhooks-'));
  stack = await startLocalProcess(dataDir, { WEBHOOK_RETRY_DELAYS: RETRY_DELAYS.join(','), WEBHOOK_REDRIVE_AFTER_SECONDS: '2', CLAIM_TTL_SECONDS: '2', SWEEP_INTERVAL_SECONDS: '1' });
  // A call answered and never streamed is missed 17 s later: answered first, its test (the last) waits for what is left.
  const receiver = await startReceiver();
  const { webhookId, answerUrl } = await hookedConnector(receiver.url, 'wh-missed', ['call-missed']);
  const call = new SimulatedCall({ answerUrl });
  await call.answer();
  unstreamed = { receiver, webhookId, call };
}, 30_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const api = (method: string, path: string, body?: unknown) => apiRequest(stack, method, path, body);

async function publicKey(): Promise<string> {
  const res = await fetch(`${stack.info.apiUrl}/v2/public/rsa-public-key`);
  return ((await res.json()) as { publicKey: string }).publicKey;
}

/** A webhook for `url`, on a connector of its own (so only this test's calls reach it), returning that connector's Answer URL. */
async function hookedConnector(url: string, room: string, events?: string[]): Promise<{ webhookId: string; answerUrl: string }> {
  const hook = await api('POST', '/v2/sip/webhooks', { url, ...(events && { events }) });
  expect(hook.status).toBe(201);
  const connector = await api('POST', '/v2/connectors', { provider: 'plivo', defaultRoomId: room });
  return { webhookId: hook.body.id as string, answerUrl: connector.data.webhookUrl as string };
}

const deliveries = async (webhookId: string, query = '') =>
  (await api('GET', `/v2/sip/webhooks/${webhookId}/deliveries${query}`)).data as unknown as {
    id: string;
    status: string;
    attempts: { statusCode: number | null }[];
    payload: { webhookType: string };
  }[];

afterEach(async () => {
  // Each test's webhook is removed, so the next test's receiver sees only its own events.
  const { data } = await api('GET', '/v2/sip/webhooks');
  for (const hook of data as unknown as { id: string }[]) if (hook.id !== unstreamed.webhookId) await api('DELETE', `/v2/sip/webhooks/${hook.id}`);
});

/** Validates a value against a component schema of the API's OpenAPI document (`Call`, say). */
function openApiValidator(component: string) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(openApiDocument(), 'openapi');
  const validate = ajv.compile({ $ref: `openapi#/components/schemas/${component}` });
  return (value: unknown) => ({ valid: validate(value), errors: validate.errors ?? null });
}

/** What a call event's `data` showed of a call that changed later: `call` as it was when `timelog` was its last entry. */
function asOf(call: CallView, timelog: CallView['timelog']): unknown {
  const { status } = timelog[timelog.length - 1] as CallStatusEntry;
  const ended = status !== 'incoming' && status !== 'answered';
  const details = call.additionalDetails;
  return {
    ...call,
    status,
    timelog,
    end: ended ? call.end : null,
    additionalDetails: {
      ...details,
      answeredAt: status === 'incoming' ? null : details.answeredAt,
      ...(!ended && { hangupReason: null, hangupCause: null, durationSeconds: null }),
    },
  };
}

it('delivers call-started, call-answered and call-hangup of a call once each, in order, each signed, each `data` the call as GET /v2/sip/call/{id} showed it', async () => {
  const receiver = await startReceiver();
  try {
    const { answerUrl } = await hookedConnector(receiver.url, 'wh-full');
    const call = new SimulatedCall({ answerUrl });
    await call.start();
    await call.play(tone(700, 0.3));
    await call.hangup();
    await waitFor(() => (receiver.received.length >= 3 ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received).toHaveLength(3);

    const byTime = [...receiver.received].sort((a, b) => a.payload.timestamp.localeCompare(b.payload.timestamp));
    expect(byTime.map((r) => r.payload.webhookType)).toEqual(['call-started', 'call-answered', 'call-hangup']);
    const pem = await publicKey();
    const validCall = openApiValidator('Call');
    for (const hook of receiver.received) {
      const signature = hook.headers['videosdk-signature'] as string;
      expect(verify('RSA-SHA256', hook.body, pem, Buffer.from(signature, 'base64'))).toBe(true);
      expect(verifyVideosdkSignature(hook.body, signature, pem)).toBe(true);
      // One changed byte and the signature no longer holds.
      const tampered = Buffer.from(hook.body);
      const at = tampered.length - 3;
      tampered[at] = (tampered[at] as number) ^ 1;
      expect(verifyVideosdkSignature(tampered, signature, pem)).toBe(false);
      expect(hook.headers['content-type']).toBe('application/json');
      expect(hook.headers['webhook-id']).toMatch(/^whd_[0-9a-z]{16}$/);
      expect(Math.abs(Number(hook.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
      expect(Object.keys(hook.payload).sort()).toEqual(['data', 'timestamp', 'webhookType']);
      expect(validCall(hook.payload.data)).toEqual({ valid: true, errors: null });
      expect(hook.payload.data).toMatchObject({ type: 'inbound', provider: 'plivo', roomId: 'wh-full', region: 'us002', additionalDetails: { callUuid: call.callUuid } });
    }
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(3);
    const [started, answered, hangup] = byTime.map((r) => r.payload.data) as [CallView, CallView, CallView];
    expect(started).toMatchObject({ status: 'incoming', end: null, additionalDetails: { answeredAt: null } });
    expect(answered).toMatchObject({ status: 'answered', end: null });
    // The stream's `stop` and Plivo's hangup POST both end the call; whichever is recorded first names the reason.
    expect(hangup).toMatchObject({ status: 'ended', additionalDetails: { hangupReason: expect.stringMatching(/^(caller-hangup|NORMAL_CLEARING)$/) } });
    expect(hangup.timelog.map((entry) => ('status' in entry ? entry.status : entry.event))).toEqual(['incoming', 'answered', 'ended']);
    expect(byTime.map((r) => r.payload.timestamp)).toEqual(hangup.timelog.map((entry) => entry.at));

    // The call log answers what the last event showed; each earlier event showed it as it was at that change.
    const { status, data } = await api('GET', `/v2/sip/call/${hangup.id}`);
    expect(status).toBe(200);
    expect(data).toEqual(hangup);
    for (const event of [started, answered]) expect(event).toEqual(asOf(hangup, hangup.timelog.slice(0, event.timelog.length)));
  } finally {
    await receiver.close();
  }
}, 30_000);

it('retries a receiver that fails twice: exactly 3 attempts, spaced by the retry delays, one webhook-id', async () => {
  const receiver = await startReceiver((n) => (n < 2 ? 503 : 200));
  try {
    const { webhookId, answerUrl } = await hookedConnector(receiver.url, 'wh-retry', ['call-started']);
    await new SimulatedCall({ answerUrl }).answer();
    const [delivery] = await waitFor(async () => {
      const list = await deliveries(webhookId, '?status=delivered');
      return list.length ? list : undefined;
    }, 15_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([delivery?.id]));
    const [first, second, third] = receiver.received.map((r) => r.at) as [number, number, number];
    expect(second - first).toBeGreaterThanOrEqual(RETRY_DELAYS[0]! * 1000 - 50);
    expect(second - first).toBeLessThan(RETRY_DELAYS[0]! * 1000 + 1500);
    expect(third - second).toBeGreaterThanOrEqual(RETRY_DELAYS[1]! * 1000 - 50);
    expect(third - second).toBeLessThan(RETRY_DELAYS[1]! * 1000 + 1500);
    expect(delivery?.attempts.map((a) => a.statusCode)).toEqual([503, 503, 200]);
  } finally {
    await receiver.close();
  }
}, 30_000);

it('dead-letters a delivery after 4 failed attempts, and the retry endpoint re-drives it', async () => {
  let up = false;
  const receiver = await startReceiver(() => (up ? 200 : 500));
  try {
    const { webhookId, answerUrl } = await hookedConnector(receiver.url, 'wh-dead', ['call-started']);
    await new SimulatedCall({ answerUrl }).answer();
    const [failed] = await waitFor(async () => {
      const list = await deliveries(webhookId, '?status=failed');
      return list.length ? list : undefined;
    }, 20_000);
    expect(receiver.received).toHaveLength(4);
    expect(failed?.attempts.map((a) => a.statusCode)).toEqual([500, 500, 500, 500]);
    expect(await deliveries(webhookId, '?status=pending')).toEqual([]);

    // The dead-letter queue holds it, naming the delivery.
    const sqs = sqsClient({ region: 'us-east-1', sqsEndpoint: stack.info.aws.sqsEndpoint });
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'plivo-connector-webhooks-dlq' }));
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 0 }));
    expect((dead.Messages ?? []).map((m) => (JSON.parse(m.Body ?? '{}') as { deliveryId?: string }).deliveryId)).toContain(failed?.id);
    sqs.destroy();

    up = true;
    const retry = await api('POST', `/v2/sip/webhooks/${webhookId}/deliveries/${failed?.id}/retry`);
    expect(retry.status).toBe(202);
    expect(retry.body).toMatchObject({ id: failed?.id, status: 'pending' });
    const delivered = await waitFor(async () => (await deliveries(webhookId, '?status=delivered'))[0], 10_000);
    expect(delivered.attempts.map((a) => a.statusCode)).toEqual([500, 500, 500, 500, 200]);
    expect(receiver.received).toHaveLength(5);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([failed?.id]));
    // Only a dead-lettered delivery can be re-driven.
    expect((await api('POST', `/v2/sip/webhooks/${webhookId}/deliveries/${failed?.id}/retry`)).status).toBe(409);
  } finally {
    await receiver.close();
  }
}, 40_000);

it('loses nothing when the process is killed mid-delivery and started again', async () => {
  const receiver = await startReceiver((n) => (n === 0 ? 500 : n === 1 ? 'hang' : 200));
  try {
    const { webhookId, answerUrl } = await hookedConnector(receiver.url, 'wh-kill', ['call-started']);
    await new SimulatedCall({ answerUrl }).answer();
    // The first attempt failed and was recorded; the second is in flight when the process dies.
    await waitFor(() => (receiver.received.length === 2 ? true : undefined), 10_000);
    stack.child.kill('SIGKILL');
    await new Promise((resolve) => stack.child.once('exit', resolve));
    // dynalite, its child, follows it (its stdin closes); its data directory is then free again.
    await waitFor(() => {
      try {
        execFileSync('pgrep', ['-f', dataDir]);
        return undefined;
      } catch {
        return true;
      }
    }, 10_000);
    stack = await startLocalProcess(dataDir, { WEBHOOK_RETRY_DELAYS: RETRY_DELAYS.join(','), WEBHOOK_REDRIVE_AFTER_SECONDS: '2', CLAIM_TTL_SECONDS: '2', SWEEP_INTERVAL_SECONDS: '1' });

    const delivered = await waitFor(async () => (await deliveries(webhookId, '?status=delivered'))[0], 20_000);
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([delivered.id]));
    // The attempt the crash cut short was never recorded; the receiver got it, and then the one that succeeded.
    expect(delivered.attempts.map((a) => a.statusCode)).toEqual([500, 200]);
  } finally {
    await receiver.close();
  }
}, 60_000);

it('ends a call whose stream never started as missed, with a call-missed event', async () => {
  const { receiver, call } = unstreamed;
  try {
    // CLAIM_TTL_SECONDS=2 here: missed 15 s after the claim expired (the grace a late stream has), found by the next sweep.
    // Webhooks are per tenant: earlier tests' calls, answered but never streamed, are missed too. This call's is the one.
    const missed = await waitFor(() => receiver.received.find((r) => r.payload.data.additionalDetails.callUuid === call.callUuid), 25_000);
    expect(missed.payload).toMatchObject({ webhookType: 'call-missed', data: { status: 'missed', additionalDetails: { callUuid: call.callUuid, hangupReason: 'claim-expired' } } });
    expect(missed.payload.data.timelog).toEqual([
      { status: 'incoming', at: missed.payload.data.start },
      { status: 'missed', at: missed.payload.timestamp },
    ]);
    expect(Date.parse(missed.payload.timestamp) - Date.parse(missed.payload.data.start)).toBeGreaterThanOrEqual(17_000);
    expect(receiver.received.filter((r) => r.payload.data.id === missed.payload.data.id)).toHaveLength(1);
    expect((await api('GET', `/v2/sip/call/${missed.payload.data.id}`)).data).toEqual(missed.payload.data);
  } finally {
    await receiver.close();
  }
}, 40_000);
