import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqsClient } from '../../core/aws';
import { ensureWebhookQueues, startLocalAws } from '../../local/aws';

/**
 * The local SQS emulator as the delivery worker relies on it: a retry hides its message with
 * ChangeMessageVisibility, which must not count as a receive (patches/local-aws-sqs+2.0.2.patch).
 */
it('counts receives, not visibility changes, in ApproximateReceiveCount', async () => {
  const kmsDir = mkdtempSync(join(tmpdir(), 'sqs-emulator-kms-'));
  const aws = await startLocalAws(undefined, kmsDir);
  const sqs = sqsClient({ region: 'us-east-1', sqsEndpoint: aws.sqsEndpoint });
  try {
    const { queueUrl } = await ensureWebhookQueues(sqs);
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x' }));
    const receive = async () => {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 2, AttributeNames: ['All'] }));
      return out.Messages?.[0];
    };
    const first = await receive();
    expect(first?.Attributes?.ApproximateReceiveCount).toBe('1');
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: first?.ReceiptHandle, VisibilityTimeout: 1 }));
    const second = await receive();
    expect(second?.MessageId).toBe(first?.MessageId);
    expect(second?.Attributes?.ApproximateReceiveCount).toBe('2');
  } finally {
    sqs.destroy();
    await aws.close();
    rmSync(kmsDir, { recursive: true, force: true });
  }
}, 20_000);
