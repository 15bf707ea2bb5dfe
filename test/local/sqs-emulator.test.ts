import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqsClient } from '../../core/aws';
import { ensureWebhookQueues, startLocalAws } from '../../local/aws';

/**
 * The local SQS emulator as the delivery worker relies on it (patches/local-aws-sqs+2.0.2.patch fixes
 * both): a retry hides its message with ChangeMessageVisibility, which must not count as a receive; and
 * a long poll returns as soon as a message is there, as SQS does, not when the batch is full.
 */
let aws: Awaited<ReturnType<typeof startLocalAws>>;
let sqs: ReturnType<typeof sqsClient>;
let queueUrl: string;
const kmsDir = mkdtempSync(join(tmpdir(), 'sqs-emulator-kms-'));

beforeAll(async () => {
  aws = await startLocalAws(undefined, kmsDir);
  sqs = sqsClient({ region: 'us-east-1', sqsEndpoint: aws.sqsEndpoint });
  ({ queueUrl } = await ensureWebhookQueues(sqs));
});

afterAll(async () => {
  sqs.destroy();
  await aws.close();
  rmSync(kmsDir, { recursive: true, force: true });
});

it('returns a long poll as soon as one message is there, not when the batch is full', async () => {
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'one' }));
  const started = performance.now();
  const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }));
  expect(out.Messages?.map((m) => m.Body)).toEqual(['one']);
  expect(performance.now() - started).toBeLessThan(1000);
  await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: out.Messages?.[0]?.ReceiptHandle }));
});

it('counts receives, not visibility changes, in ApproximateReceiveCount', async () => {
  {
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
  }
}, 20_000);
