import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Logger } from '../core/log';

/** How long each receive waits for a message (SQS's longest, as the event source's). */
export const LONG_POLL_MS = 20_000;

/**
 * What Lambda's SQS event source does for the delivery function in AWS, for the local stack: long-polls
 * the queue with a few concurrent pollers, hands each batch to the same handler, and deletes the
 * messages it did not report as failed. Failed ones stay in the queue (hidden for as long as the
 * handler asked), exactly as there.
 */
export function pollQueue(
  sqs: SQSClient,
  queueUrl: string,
  handler: (event: SQSEvent) => Promise<SQSBatchResponse>,
  log: Logger,
  concurrency = 4,
): { stop(): Promise<void> } {
  let stopped = false;
  // Long polls: an idle stack makes a request per poller every 20 s, not every second (a message ends a poll at once).
  // Stopping aborts the polls under way.
  const polling = new AbortController();
  const poll = async (): Promise<void> => {
    while (!stopped) {
      try {
        const out = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: LONG_POLL_MS / 1000, AttributeNames: ['All'] }),
          { abortSignal: polling.signal },
        );
        const messages = out.Messages ?? [];
        if (!messages.length) continue;
        const { batchItemFailures } = await handler({ Records: messages.map(toRecord) });
        const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier));
        const done = messages.filter((m) => !failed.has(m.MessageId as string));
        if (done.length) {
          await sqs.send(
            new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
          );
        }
      } catch (err) {
        if (stopped) return;
        log.error('queue poll failed', { error: err });
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  const pollers = Array.from({ length: concurrency }, poll);
  return {
    stop: async () => {
      stopped = true;
      polling.abort();
      await Promise.all(pollers);
    },
  };
}

function toRecord(message: Message): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? '',
      SenderId: attributes.SenderId ?? '',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '',
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: '',
    awsRegion: 'us-east-1',
  };
}
