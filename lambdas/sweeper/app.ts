import { dynamoClient } from '../../core/aws';
import { DynamoCallStore } from '../../core/calls/store';
import type { ControlPlaneConfig } from '../../core/config';
import { createLogger } from '../../core/log';
import { placementStores } from '../../core/placement';
import { recordingBuckets } from '../../core/recordings/buckets';
import { recordingWebhookPublisher } from '../../core/recordings/events';
import { DynamoRecordingStore } from '../../core/recordings/store';
import { roomWebhookPublisher } from '../../core/room-records/webhooks';
import { DynamoSessionStore } from '../../core/sessions/store';
import { Sweeper } from '../../core/sweeper';
import { WebhookCache } from '../../core/webhooks/cache';
import { WebhookPublisher, webhookQueue, webhookStores } from '../../core/webhooks/publisher';

/** The sweeper over the control table, publishing `call-missed` like any other call event, and a dead server's sessions' events to their rooms' webhooks. */
export function createSweeper(config: ControlPlaneConfig, log = createLogger(config.logLevel, { service: 'sweeper' })): Sweeper {
  const dynamo = dynamoClient(config.aws);
  const stores = webhookStores(config, dynamo);
  const queue = webhookQueue(config);
  const calls = new DynamoCallStore(dynamo, config.tableName);
  return new Sweeper({
    dynamo,
    tableName: config.tableName,
    calls,
    deliveries: stores.deliveries,
    queue,
    events: new WebhookPublisher({ webhooks: new WebhookCache(stores.webhooks, config.webhooks.cacheSeconds * 1000), deliveries: stores.deliveries, queue, calls, log }),
    unpublishedAfterSeconds: config.webhooks.redriveAfterSeconds,
    retentionDays: config.callRetentionDays,
    placements: placementStores(config, dynamo),
    sessions: new DynamoSessionStore(dynamo, config.tableName),
    roomEvents: roomWebhookPublisher(config, dynamo, log),
    recordings: { store: new DynamoRecordingStore(dynamo, config.tableName), objects: recordingBuckets(config.aws), events: recordingWebhookPublisher(config, dynamo, log) },
    log,
  });
}
