import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface WebhookQueueProps {
  /**
   * Timeout of the delivery function that consumes the queue. The visibility timeout is six times this, as AWS
   * advises for Lambda event sources, so a message is not redelivered while a retried batch is still running.
   * @default Duration.seconds(30)
   */
  readonly consumerTimeout?: Duration;
  /**
   * Receives before SQS itself moves a message to the dead-letter queue, 1-1000. Only a backstop for poison
   * messages (a batch that crashes the consumer every time): the delivery worker counts attempts in DynamoDB and
   * dead-letters a delivery itself after its last retry, which takes fewer receives than this.
   * @default 10
   */
  readonly maxReceiveCount?: number;
}

/** Lifecycle events waiting for delivery, and the dead-letter queue where undeliverable ones stay for replay. */
export class WebhookQueue extends Construct {
  public readonly queue: Queue;
  public readonly deadLetterQueue: Queue;
  /** The consumer's timeout the visibility timeout was made for; its consumer may run no longer than this. */
  public readonly consumerTimeout: Duration;

  constructor(scope: Construct, id: string, props: WebhookQueueProps = {}) {
    super(scope, id);
    const consumerTimeout = props.consumerTimeout ?? Duration.seconds(30);
    const maxReceiveCount = props.maxReceiveCount ?? 10;
    if (consumerTimeout.toSeconds() < 1 || consumerTimeout.toSeconds() > 900) {
      throw new Error(
        `WebhookQueue ${id}: consumerTimeout must be a Lambda timeout (1 s to 15 min), ` +
          `got ${consumerTimeout.toHumanString()}.`,
      );
    }
    if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000) {
      throw new Error(`WebhookQueue ${id}: maxReceiveCount must be an integer from 1 to 1000, got ${maxReceiveCount}.`);
    }
    this.consumerTimeout = consumerTimeout;

    // SQS-managed SSE rather than a KMS key: events carry call metadata (phone numbers) but no secrets, and it
    // spares every producer (answer handler, media services in other regions) and consumer a KMS grant, plus the
    // per-request KMS cost and throttling on the hot path of every call.
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(consumerTimeout.toSeconds() * 6),
      // Shorter than the DLQ's 14 days: a dead-lettered message keeps its original enqueue time.
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount },
    });
  }
}
