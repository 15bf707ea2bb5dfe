import { ChangeMessageVisibilityCommand, SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { callDependency } from '../errors';
import type { DeliveryRef } from './model';

const refSchema = z.strictObject({ tenant: z.string().min(1), webhookId: z.string().min(1), deliveryId: z.string().min(1) });

/** The delivery a queue message names; null for a message that is not one of ours. */
export function parseDeliveryRef(body: string): DeliveryRef | null {
  try {
    const parsed = refSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The SQS queue of deliveries (at least once), and its dead-letter queue. */
export class DeliveryQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly deadLetterQueueUrl: string | null = null,
  ) {}

  /** Enqueues deliveries for an attempt now, ten to a request. */
  async send(refs: readonly DeliveryRef[]): Promise<void> {
    for (let i = 0; i < refs.length; i += 10) {
      const entries = refs.slice(i, i + 10).map((ref, n) => ({ Id: String(n), MessageBody: JSON.stringify(ref) }));
      const out = await callDependency('queue', () => this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries })));
      if (out.Failed?.length) throw new Error(`SQS refused ${out.Failed.length} deliveries: ${out.Failed[0]?.Code ?? 'unknown'}`);
    }
  }

  /** Hides a received message for `seconds`: its next attempt. */
  async delay(receiptHandle: string, seconds: number): Promise<void> {
    await this.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
  }

  /** Puts a message that will not be attempted again on the dead-letter queue, with why. */
  async deadLetter(body: string, reason: string): Promise<void> {
    if (!this.deadLetterQueueUrl) throw new Error('WEBHOOK_DLQ_URL is not set');
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.deadLetterQueueUrl,
        MessageBody: body,
        MessageAttributes: { reason: { DataType: 'String', StringValue: reason.slice(0, 256) } },
      }),
    );
  }
}
