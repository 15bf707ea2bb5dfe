import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, MathExpression, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { ServiceFunction } from './service-function';
import type { WebhookQueue } from './webhook-queue';
import { DELIVERY_METRICS } from '../../core/metrics';

export interface WebhookDeliveryProps {
  /** The queue the worker consumes; the worker's timeout is the queue's `consumerTimeout`. */
  readonly queue: WebhookQueue;
  /** Absolute path of the delivery worker's handler module. */
  readonly entry: string;
  /** Environment of the worker besides what its `useXxx` grants set. @default - none */
  readonly environment?: Readonly<Record<string, string>>;
}

/** Retries wait 60 + 120 + 240 s: a message older than this is stuck, not waiting for its retry. */
const BACKLOG_SECONDS = 900;

/** Share of POST attempts that may fail within 5 minutes before the failure-rate alarm fires. */
const FAILURE_RATE_THRESHOLD = 0.25;
/** Fewer attempts than this within 5 minutes never fire it: 1 failure out of 2 is noise, not an outage. */
const MIN_ATTEMPTS = 10;

/**
 * The lifecycle-webhook delivery worker on its queue, and the alarms that say deliveries are failing: a message in
 * the dead-letter queue, too many failed POSTs, or the worker itself failing. The alarms have no actions; subscribe
 * to them by name. What the worker may read and sign with is granted by the stack, as for every function.
 */
export class WebhookDelivery extends Construct {
  /** Consumes the queue in batches, POSTs each event, retries and dead-letters by itself. */
  public readonly worker: ServiceFunction;
  /** At least one delivery is dead-lettered and waits to be replayed. */
  public readonly deadLetterAlarm: Alarm;
  /** More than a quarter of POST attempts failed within 5 minutes (with at least 10 attempts). */
  public readonly failureRateAlarm: Alarm;
  /** The worker itself failed: a batch it could not even report on. */
  public readonly errorsAlarm: Alarm;
  /** Deliveries waiting far longer than the retry schedule: the worker is not getting through the queue. */
  public readonly backlogAlarm: Alarm;

  constructor(scope: Construct, id: string, props: WebhookDeliveryProps) {
    super(scope, id);
    this.worker = new ServiceFunction(this, 'Worker', {
      entry: props.entry,
      description: 'Plivo connector lifecycle webhook delivery: signs and POSTs queued events, retries, dead-letters',
      // Each POST has its own 5 s timeout and a batch's POSTs run concurrently; the queue's visibility fits this.
      timeout: props.queue.consumerTimeout,
      environment: props.environment,
    });
    this.worker.useWebhookQueue(props.queue, 'deliver');

    this.deadLetterAlarm = new Alarm(this, 'DeadLetterAlarm', {
      alarmDescription:
        'Webhook deliveries are in the dead-letter queue: their receivers kept failing. Fix the receiver, then ' +
        're-drive them through the API.',
      metric: props.queue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // SQS reports no datapoints for an idle, empty queue: that is the healthy case.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    const sum = (metricName: string) =>
      new Metric({ namespace: DELIVERY_METRICS.namespace, metricName, statistic: 'Sum', period: Duration.minutes(5) });
    this.failureRateAlarm = new Alarm(this, 'FailureRateAlarm', {
      alarmDescription:
        `More than ${FAILURE_RATE_THRESHOLD * 100}% of webhook POST attempts failed within 5 minutes ` +
        `(of at least ${MIN_ATTEMPTS} attempts).`,
      metric: new MathExpression({
        // No failures reported in a period means none failed; too few attempts count as a rate of 0.
        expression: `IF(attempts >= ${MIN_ATTEMPTS}, FILL(failures, 0) / attempts, 0)`,
        usingMetrics: { attempts: sum(DELIVERY_METRICS.attempts), failures: sum(DELIVERY_METRICS.failures) },
        label: 'Webhook delivery failure rate',
        period: Duration.minutes(5),
      }),
      threshold: FAILURE_RATE_THRESHOLD,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // No attempts at all, no datapoints: nothing failed.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    this.errorsAlarm = this.worker.addErrorsAlarm();

    this.backlogAlarm = new Alarm(this, 'BacklogAlarm', {
      alarmDescription:
        `A webhook delivery has waited in the queue over ${BACKLOG_SECONDS / 60} minutes, more than the whole retry ` +
        'schedule takes: the worker fails before it records attempts (KMS, DynamoDB) or cannot keep up.',
      metric: props.queue.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: BACKLOG_SECONDS,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  public get alarms(): readonly Alarm[] {
    return [this.deadLetterAlarm, this.failureRateAlarm, this.errorsAlarm, this.backlogAlarm];
  }
}
