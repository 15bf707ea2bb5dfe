import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { sqsClient } from '../aws';
import { ConfigError, type ControlPlaneConfig } from '../config';
import type { DocumentStore } from '../documents';
import { logEvent, type CallEvent, type CallEventSink } from '../events';
import { newDeliveryId } from '../ids';
import type { Logger } from '../log';
import type { Delivery, Webhook, WebhookPayload } from './model';
import { DeliveryQueue } from './queue';
import { DeliveryStore, DynamoWebhookStore } from './store';

/**
 * Turns a call event into one delivery per subscribed webhook: the delivery records are written first
 * (durable, and in the `due` index), then queued. If queueing fails the sweeper queues them later.
 */
export class WebhookPublisher implements CallEventSink {
  constructor(
    private readonly deps: {
      readonly webhooks: DocumentStore<Webhook>;
      readonly deliveries: DeliveryStore;
      readonly queue: DeliveryQueue;
      readonly log: Logger;
    },
  ) {}

  async publish(event: CallEvent, webhooks?: readonly Webhook[]): Promise<void> {
    const log = this.deps.log.child({ tenant: event.tenant, callId: event.call.id, roomId: event.call.roomId, event: event.type });
    logEvent(this.deps.log, event);
    let deliveries: Delivery[];
    try {
      const hooks = (webhooks ?? (await this.deps.webhooks.all(event.tenant))).filter((hook) => hook.events.includes(event.type));
      if (!hooks.length) return;
      const payload: WebhookPayload = { webhookType: event.type, data: event.call, timestamp: event.timestamp };
      const body = JSON.stringify(payload);
      const now = new Date().toISOString();
      deliveries = hooks.map((hook) => ({
        id: newDeliveryId(),
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
      await this.deps.deliveries.createAll(deliveries);
    } catch (err) {
      log.error('call event not recorded for webhooks: it is in this log line only', { error: err, payload: event });
      return;
    }
    try {
      await this.deps.queue.send(deliveries.map((d) => ({ tenant: d.tenant, webhookId: d.webhookId, deliveryId: d.id })));
    } catch (err) {
      log.warn('deliveries recorded but not queued; the sweeper queues them', { error: err, deliveries: deliveries.map((d) => d.id) });
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
  return new WebhookPublisher({ ...webhookStores(config, dynamo), queue: webhookQueue(config), log });
}
