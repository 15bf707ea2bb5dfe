import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { sqsClient } from '../aws';
import { DynamoCallStore, type CallStore } from '../calls/store';
import { ConfigError, type ControlPlaneConfig } from '../config';
import type { DocumentStore } from '../documents';
import { logEvent, type CallEvent, type CallEventSink } from '../events';
import { deliveryIdFor } from '../ids';
import type { Logger } from '../log';
import type { Delivery, Webhook, WebhookPayload } from './model';
import { DeliveryQueue } from './queue';
import { DeliveryStore, DynamoWebhookStore } from './store';

/**
 * Turns a call event into one delivery per subscribed webhook: the delivery records are written first
 * (durable, and in the `due` index), then queued, and then the call stops waiting for the event. If queueing
 * fails the sweeper queues them later; if the process dies before the records are written, the call still waits
 * for its event (the `outbox` index) and the sweeper publishes it again: delivery ids follow from the call, the
 * event and the webhook, so a second publish writes no twin.
 */
/** A CallEventSink that also takes the tenant's webhooks when the caller has just read them (the Answer URL does), saving a read. */
export interface WebhookEventSink extends CallEventSink {
  publish(event: CallEvent, webhooks?: readonly Webhook[]): Promise<void>;
}

export class WebhookPublisher implements WebhookEventSink {
  constructor(
    private readonly deps: {
      readonly webhooks: DocumentStore<Webhook>;
      readonly deliveries: DeliveryStore;
      readonly queue: DeliveryQueue;
      readonly calls: Pick<CallStore, 'eventRecorded'>;
      readonly log: Logger;
    },
  ) {}

  async publish(event: CallEvent, webhooks?: readonly Webhook[]): Promise<void> {
    const log = this.deps.log.child({ tenant: event.tenant, callId: event.call.id, roomId: event.call.roomId, event: event.type });
    logEvent(this.deps.log, event);
    let deliveries: Delivery[];
    try {
      const hooks = (webhooks ?? (await this.deps.webhooks.all(event.tenant))).filter((hook) => hook.events.includes(event.type));
      const payload: WebhookPayload = { webhookType: event.type, data: event.call, timestamp: event.timestamp };
      const body = JSON.stringify(payload);
      const now = new Date().toISOString();
      deliveries = hooks.map((hook) => ({
        id: deliveryIdFor(event.call.id, event.type, hook.id, Date.parse(event.timestamp)),
        tenant: event.tenant,
        webhookId: hook.id,
        event: event.type,
        callId: event.call.id,
        status: 'pending',
        body,
        attempts: [],
        cycleAttempts: 0,
        createdAt: now,
        updatedAt: now,
        nextAttemptAt: null,
      }));
      deliveries = await this.deps.deliveries.createAll(deliveries);
    } catch (err) {
      log.error('call event not recorded for webhooks yet; the sweeper publishes it again', { error: err });
      return;
    }
    try {
      if (deliveries.length) await this.deps.queue.send(deliveries.map((d) => ({ tenant: d.tenant, webhookId: d.webhookId, deliveryId: d.id })));
    } catch (err) {
      log.warn('deliveries recorded but not queued; the sweeper queues them', { error: err, deliveries: deliveries.map((d) => d.id) });
    }
    try {
      await this.deps.calls.eventRecorded(event.tenant, event.call.id, event.type);
    } catch (err) {
      log.warn('call event recorded, but the call still waits for it; the sweeper clears it', { error: err });
    }
  }
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
  return new WebhookPublisher({ ...webhookStores(config, dynamo), queue: webhookQueue(config), calls: new DynamoCallStore(dynamo, config.tableName), log });
}
