import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { sqsClient } from '../aws';
import type { CallRecord } from '../calls/model';
import { DynamoCallStore, type CallStore } from '../calls/store';
import { ConfigError, type ControlPlaneConfig } from '../config';
import { callEvent, logEvent, type CallEvent, type CallEventSink, type CallEventType, type EventSubscriptions } from '../events';
import { deliveryIdFor } from '../ids';
import type { Logger } from '../log';
import { WebhookCache } from './cache';
import { subscribedEvents, subscribes, type Delivery, type Webhook, type WebhookPayload } from './model';
import { DeliveryQueue } from './queue';
import { DeliveryStore, DynamoWebhookStore } from './store';

/**
 * Turns a call event into one delivery per subscribed webhook: the delivery records are written first
 * (durable, and in the `due` index), then queued, and then, if the state change put the event in the outbox, the
 * call stops waiting for it. If queueing fails the sweeper queues them later; if the process dies before the
 * records are written, an outboxed event is still waited for (the `outbox` index) and the sweeper publishes it
 * again: delivery ids follow from the call, the event, its timestamp and the webhook, so a second publish writes no
 * twin, and two events of one type (each its change's timestamp) are two deliveries.
 * The tenant's webhooks come from the caller (the Answer URL has just read them) or from a cache at most
 * WEBHOOK_CACHE_SECONDS old, which also answers which events the tenant subscribes to (`subscribedEvents`).
 */
export interface WebhookEventSink extends CallEventSink {
  publish(event: CallEvent, outboxed: boolean, webhooks?: readonly Webhook[]): Promise<void>;
}

export class WebhookPublisher implements WebhookEventSink, EventSubscriptions {
  constructor(
    private readonly deps: {
      readonly webhooks: WebhookCache;
      readonly deliveries: DeliveryStore;
      readonly queue: DeliveryQueue;
      readonly calls: Pick<CallStore, 'eventRecorded'>;
      readonly log: Logger;
    },
  ) {}

  async subscribedEvents(tenant: string): Promise<ReadonlySet<CallEventType>> {
    return new Set(subscribedEvents(await this.deps.webhooks.of(tenant)));
  }

  async publish(event: CallEvent, outboxed: boolean, webhooks?: readonly Webhook[]): Promise<void> {
    // Built only when something goes wrong: most events of most tenants (every answered call of a tenant without
    // webhooks) are logged and done.
    const log = () => this.deps.log.child({ tenant: event.tenant, callId: event.call.id, roomId: event.call.roomId, event: event.type });
    logEvent(this.deps.log, event);
    try {
      const hooks = (webhooks ?? (await this.cachedWebhooks(event, outboxed))).filter((hook) => hook.events.includes(event.type));
      if (hooks.length) {
        const payload: WebhookPayload = { webhookType: event.type, data: event.call, timestamp: event.timestamp };
        const of = { tenant: event.tenant, event: event.type, subject: event.call.id, callId: event.call.id, body: JSON.stringify(payload), timestamp: event.timestamp };
        await recordAndQueue(this.deps, hooks.map((hook) => newDelivery({ ...of, webhookId: hook.id })), log());
      }
    } catch (err) {
      log().error(outboxed ? 'call event not recorded for webhooks yet; the sweeper publishes it again' : 'call event not recorded for webhooks', { error: err });
      return;
    }
    if (!outboxed) return;
    try {
      await this.deps.calls.eventRecorded(event.tenant, event.call.id, { type: event.type, at: event.timestamp });
    } catch (err) {
      log().warn('call event recorded, but the call still waits for it; the sweeper clears it', { error: err });
    }
  }

  /**
   * The cached webhooks; read again when the event is outboxed but none of them subscribes to it and they were read
   * before the change: its writer knew of a subscriber the cache does not (the call's claim told it, say).
   */
  private async cachedWebhooks(event: CallEvent, outboxed: boolean): Promise<readonly Webhook[]> {
    const cached = await this.deps.webhooks.of(event.tenant);
    if (!outboxed || subscribes(cached, event.type)) return cached;
    return this.deps.webhooks.of(event.tenant, Date.parse(event.timestamp));
  }
}

/**
 * A new delivery of `body` (an `event` that happened at `timestamp`) to the receiver `webhookId`: its id follows from
 * what the event is about (`subject`: the call, or the session event's id), the event and the receiver, so a second
 * publish of the same event names the same delivery.
 */
export function newDelivery(fields: Pick<Delivery, 'tenant' | 'webhookId' | 'event' | 'callId' | 'body'> & { readonly subject: string; readonly timestamp: string }): Delivery {
  const { subject, timestamp, ...delivery } = fields;
  const now = new Date().toISOString();
  return {
    ...delivery,
    id: deliveryIdFor(subject, delivery.event, delivery.webhookId, Date.parse(timestamp)),
    status: 'pending',
    attempts: [],
    cycleAttempts: 0,
    createdAt: now,
    updatedAt: now,
    nextAttemptAt: null,
  };
}

/**
 * Writes the deliveries first (durable, and in the `due` index), then queues those written, and returns them: one
 * already there (the event published again) is left as it is. Throws when they could not be written; a failure to
 * queue is logged, for the sweeper queues them later.
 */
export async function recordAndQueue(deps: { readonly deliveries: DeliveryStore; readonly queue: DeliveryQueue }, deliveries: readonly Delivery[], log: Logger): Promise<Delivery[]> {
  const written = await deps.deliveries.createAll(deliveries);
  try {
    if (written.length) await deps.queue.send(written.map((d) => ({ tenant: d.tenant, webhookId: d.webhookId, deliveryId: d.id })));
  } catch (err) {
    log.warn('deliveries recorded but not queued; the sweeper queues them', { error: err, deliveries: written.map((d) => d.id) });
  }
  return written;
}

/**
 * Publishes `call`'s `type` event to the tenant's `webhooks`, as read by the writer that just changed the call: the
 * event waits in the outbox when one of them subscribes to it (that write asked `subscribes`).
 */
export function publishCallEvent(events: WebhookEventSink, type: CallEventType, call: CallRecord, webhooks: readonly Webhook[]): Promise<void> {
  return events.publish(callEvent(type, call), subscribes(webhooks, type), webhooks);
}

/** The stores every part of the webhook path shares, from the control-plane config. */
export function webhookStores(config: ControlPlaneConfig, dynamo: DynamoDBClient) {
  return {
    webhooks: new DynamoWebhookStore(dynamo, config.tableName),
    deliveries: new DeliveryStore(dynamo, config.tableName, {
      retentionDays: config.callRetentionDays,
      redriveAfterSeconds: config.webhooks.redriveAfterSeconds,
    }),
  };
}

/** The delivery queue, for entry points that cannot work without it. */
export function webhookQueue(config: ControlPlaneConfig): DeliveryQueue {
  const { queueUrl, deadLetterQueueUrl } = config.webhooks;
  if (!queueUrl) throw new ConfigError('Missing required environment variable WEBHOOK_QUEUE_URL');
  return new DeliveryQueue(sqsClient(config.aws), queueUrl, deadLetterQueueUrl);
}

/** The publisher of an entry point that emits call events. */
export function webhookPublisher(config: ControlPlaneConfig, dynamo: DynamoDBClient, log: Logger): WebhookPublisher {
  const { webhooks, deliveries } = webhookStores(config, dynamo);
  return new WebhookPublisher({
    webhooks: new WebhookCache(webhooks, config.webhooks.cacheSeconds * 1000),
    deliveries,
    queue: webhookQueue(config),
    calls: new DynamoCallStore(dynamo, config.tableName),
    log,
  });
}
