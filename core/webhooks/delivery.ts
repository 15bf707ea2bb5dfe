import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Logger } from '../log';
import { deliveryMetrics } from '../metrics';
import type { SecretBox } from '../secret-box';
import { webhookSecretContext, type Delivery, type DeliveryAttempt, type DeliveryPayload, type DeliveryReceiver, type DeliveryRef } from './model';
import type { DeliveryQueue } from './queue';
import type { DeliveryReceivers } from './receivers';
import { standardSignature } from '../../client/src/webhooks';
import type { WebhookSigner } from './signing';
import type { DeliveryStore } from './store';
import { isPublicAddress, publicOnlyLookup } from './targets';

/** Each POST gets this long to answer with a status. */
export const DELIVERY_TIMEOUT_MS = 5_000;
/** The attempts a delivery keeps in its record (re-drives add more). */
const MAX_RECORDED_ATTEMPTS = 50;

const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

interface Outcome {
  readonly statusCode: number | null;
  readonly error: string | null;
}

/**
 * One attempt of one delivery, as the queue hands it over. Attempts are counted in the delivery
 * record, not by the queue: a message received twice, or re-sent by the sweeper, never costs the
 * receiver an attempt it did not get, and the conditional write lets only one copy record each one.
 */
export class DeliveryWorker {
  constructor(
    private readonly deps: {
      /** The webhook or room each delivery goes to, read at each attempt (its URL may have changed). */
      readonly receivers: Pick<DeliveryReceivers, 'get'>;
      readonly deliveries: DeliveryStore;
      readonly queue: DeliveryQueue;
      readonly signer: WebhookSigner;
      /** Opens each webhook's Standard Webhooks secret. */
      readonly box: SecretBox;
      readonly retryDelaysSeconds: readonly number[];
      readonly allowPrivateTargets: boolean;
      readonly log: Logger;
    },
  ) {}

  /** Attempts the delivery once; returns seconds until the message should come back, or null when it is done with. */
  async process(ref: DeliveryRef): Promise<number | null> {
    const delivery = await this.deps.deliveries.get(ref);
    // Delivered, dead-lettered or expired: this message is a duplicate.
    if (!delivery || delivery.status !== 'pending') return null;
    const early = delivery.nextAttemptAt ? Date.parse(delivery.nextAttemptAt) - Date.now() : 0;
    if (early > 1000) return Math.ceil(early / 1000);
    const log = this.deps.log.child({ tenant: ref.tenant, webhookId: ref.webhookId, deliveryId: ref.deliveryId, callId: delivery.callId, event: delivery.event });

    const receiver = await this.deps.receivers.get(ref.tenant, ref.webhookId);
    const { started, ...outcome } = receiver ? await this.post(receiver, delivery) : { started: Date.now(), statusCode: null, error: 'webhook deleted' };
    const attempt: DeliveryAttempt = { at: new Date(started).toISOString(), durationMs: Date.now() - started, ...outcome };
    const ok = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
    const cycle = delivery.cycleAttempts + 1;
    const delay = ok || !receiver ? undefined : this.deps.retryDelaysSeconds[cycle - 1];
    const now = new Date();
    const next: Delivery = {
      ...delivery,
      status: ok ? 'delivered' : delay === undefined ? 'failed' : 'pending',
      attempts: [...delivery.attempts, attempt].slice(-MAX_RECORDED_ATTEMPTS),
      cycleAttempts: cycle,
      // The version the conditional write checks: it must move even within one millisecond.
      updatedAt: new Date(Math.max(now.getTime(), Date.parse(delivery.updatedAt) + 1)).toISOString(),
      nextAttemptAt: delay === undefined ? null : new Date(now.getTime() + delay * 1000).toISOString(),
    };
    // Dead-lettered before it is recorded failed: a failed send retries the message, and the attempt.
    if (next.status === 'failed') await this.deps.queue.deadLetter(JSON.stringify(ref), outcome.error ?? `HTTP ${outcome.statusCode}`);
    if (!(await this.deps.deliveries.replace(next, delivery.updatedAt))) {
      log.info('webhook attempt superseded by another copy of its message', { statusCode: outcome.statusCode });
      return null;
    }
    const latencyMs = now.getTime() - Date.parse((JSON.parse(delivery.body) as DeliveryPayload).timestamp);
    log[ok ? 'info' : 'warn']('webhook attempt', {
      attempt: cycle,
      status: next.status,
      statusCode: outcome.statusCode,
      error: outcome.error,
      durationMs: attempt.durationMs,
      ...(ok && { latencyMs }),
      ...(delay !== undefined && { retryInSeconds: delay }),
      ...deliveryMetrics(ok, latencyMs),
    });
    return delay ?? null;
  }

  /** Signs and POSTs the body; `started` is when the request went out. */
  private async post(receiver: DeliveryReceiver, delivery: Delivery): Promise<Outcome & { started: number }> {
    const target = new URL(receiver.url);
    const host = target.hostname.replace(/^\[|\]$/g, '');
    if (!this.deps.allowPrivateTargets && (target.protocol !== 'https:' || (isIP(host) && !isPublicAddress(host)))) {
      return { started: Date.now(), statusCode: null, error: 'refused: the target is not https to a public address' };
    }
    const body = Buffer.from(delivery.body, 'utf8');
    const signature = await this.deps.signer.sign(body);
    // Webhooks from before Standard Webhooks signatures and rooms' webhooks (no sealed secret) get videosdk-signature alone.
    const secret = receiver.sealedSecret ? await this.deps.box.open(Buffer.from(receiver.sealedSecret, 'base64'), webhookSecretContext(receiver)) : null;
    const timestamp = Math.floor(Date.now() / 1000);
    const started = Date.now();
    const outcome = await new Promise<Outcome>((resolve) => {
      const request = (target.protocol === 'https:' ? https : http).request(
        target,
        {
          method: 'POST',
          agent: agents[target.protocol as keyof typeof agents],
          signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
          ...(!this.deps.allowPrivateTargets && { lookup: publicOnlyLookup }),
          headers: {
            'content-type': 'application/json',
            'content-length': body.length,
            'user-agent': 'plivo-connector-webhooks/1',
            'videosdk-signature': signature,
            'webhook-id': delivery.id,
            'webhook-timestamp': String(timestamp),
            ...(secret && { 'webhook-signature': standardSignature(secret, delivery.id, timestamp, body) }),
          },
        },
        (response) => {
          // The status is the answer; the rest of the body is read and dropped so the socket is reused.
          response.on('error', () => undefined).resume();
          resolve({ statusCode: response.statusCode ?? null, error: null });
        },
      );
      request.on('error', (err: NodeJS.ErrnoException) =>
        resolve({ statusCode: null, error: err.name === 'AbortError' || err.name === 'TimeoutError' ? `timeout after ${DELIVERY_TIMEOUT_MS} ms` : err.code ?? err.message }),
      );
      request.end(body);
    });
    return { started, ...outcome };
  }
}
