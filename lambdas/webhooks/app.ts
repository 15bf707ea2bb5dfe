import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { dynamoClient, kmsClient } from '../../core/aws';
import { ConfigError, type ControlPlaneConfig } from '../../core/config';
import { createLogger, type Logger } from '../../core/log';
import { DynamoRecordingStore } from '../../core/recordings/store';
import { SecretBox } from '../../core/secret-box';
import { DynamoRoomStore } from '../../core/room-records/store';
import { DeliveryWorker } from '../../core/webhooks/delivery';
import { webhookQueue, webhookStores } from '../../core/webhooks/publisher';
import { parseDeliveryRef, type DeliveryQueue } from '../../core/webhooks/queue';
import { DeliveryReceivers } from '../../core/webhooks/receivers';
import { WebhookSigner } from '../../core/webhooks/signing';

export interface DeliveryDependencies {
  readonly worker: DeliveryWorker;
  readonly queue: DeliveryQueue;
  readonly log: Logger;
}

/**
 * Builds the delivery worker once per process; it needs the queue, the dead-letter queue, the signing key, the
 * secrets key to open each webhook's Standard Webhooks secret, and the webhooks, rooms and recordings deliveries go to.
 */
export function deliveryDependencies(config: ControlPlaneConfig, log = createLogger(config.logLevel, { service: 'webhooks' })): DeliveryDependencies {
  const queue = webhookQueue(config);
  if (!config.webhooks.deadLetterQueueUrl) throw new ConfigError('Missing required environment variable WEBHOOK_DLQ_URL');
  if (!config.webhookSigningKeyId) throw new ConfigError('Missing required environment variable WEBHOOK_SIGNING_KEY_ID');
  const kms = kmsClient(config.aws);
  const dynamo = dynamoClient(config.aws);
  const { webhooks, deliveries } = webhookStores(config, dynamo);
  return {
    worker: new DeliveryWorker({
      receivers: new DeliveryReceivers(webhooks, new DynamoRoomStore(dynamo, config.tableName), new DynamoRecordingStore(dynamo, config.tableName)),
      deliveries,
      queue,
      signer: new WebhookSigner(kms, config.webhookSigningKeyId),
      box: new SecretBox(kms, config.kmsKeyId),
      retryDelaysSeconds: config.webhooks.retryDelaysSeconds,
      allowPrivateTargets: config.webhooks.allowPrivateTargets,
      log,
    }),
    queue,
    log,
  };
}

/**
 * The SQS event handler (Lambda, with ReportBatchItemFailures): each message is one attempt of one
 * delivery, all of a batch at once. A message to retry is hidden for the retry delay and reported
 * failed, so SQS keeps it; one that is done is reported successful and deleted. A message that is not
 * a delivery is dead-lettered as it is, never dropped.
 */
export function createDeliveryHandler(deps: DeliveryDependencies) {
  const one = async (record: SQSRecord): Promise<boolean> => {
    const ref = parseDeliveryRef(record.body);
    if (!ref) {
      deps.log.error('queue message is not a delivery; dead-lettered', { messageId: record.messageId });
      await deps.queue.deadLetter(record.body, 'not a delivery message');
      return true;
    }
    const retryIn = await deps.worker.process(ref);
    if (retryIn === null) return true;
    await deps.queue.delay(record.receiptHandle, retryIn);
    return false;
  };
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const results = await Promise.allSettled(event.Records.map(one));
    const batchItemFailures = event.Records.flatMap((record, i) => {
      const result = results[i] as PromiseSettledResult<boolean>;
      if (result.status === 'fulfilled' && result.value) return [];
      // Retried after the queue's visibility timeout; attempts are counted in the delivery record.
      if (result.status === 'rejected') deps.log.error('delivery failed before its attempt was recorded', { messageId: record.messageId, error: result.reason });
      return [{ itemIdentifier: record.messageId }];
    });
    return { batchItemFailures };
  };
}
