import { Duration, type CfnElement, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { WebhookDelivery } from '../../lib/constructs/webhook-delivery';
import { WebhookQueue, type WebhookQueueProps } from '../../lib/constructs/webhook-queue';
import { FIXTURE_ENTRY, testStack } from './helpers';

function build(queueProps?: WebhookQueueProps): {
  stack: Stack;
  queue: WebhookQueue;
  delivery: WebhookDelivery;
  template: Template;
} {
  const stack = testStack();
  const queue = new WebhookQueue(stack, 'Webhooks', queueProps);
  const environment = { LOG_LEVEL: 'debug' };
  const delivery = new WebhookDelivery(stack, 'Delivery', { queue, entry: FIXTURE_ENTRY, environment });
  return { stack, queue, delivery, template: Template.fromStack(stack) };
}

function logicalId(stack: Stack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

/** The properties of `alarm`'s resource. */
function alarmProperties(stack: Stack, template: Template, alarm: IConstruct): Record<string, unknown> {
  const resource = template.findResources('AWS::CloudWatch::Alarm')[logicalId(stack, alarm)] as {
    Properties: Record<string, unknown>;
  };
  return resource.Properties;
}

test('one worker function on the queue, four alarms, nothing else that runs', () => {
  const { template } = build();
  template.resourceCountIs('AWS::Lambda::Function', 1);
  template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
  template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
});

test("the worker consumes the queue and runs as long as the queue's consumer timeout, 30 s by default", () => {
  const { stack, queue, delivery, template } = build();
  template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    EventSourceArn: { 'Fn::GetAtt': [logicalId(stack, queue.queue), 'Arn'] },
    FunctionName: { Ref: logicalId(stack, delivery.worker.function) },
    BatchSize: 10,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
  });
  template.hasResourceProperties('AWS::Lambda::Function', {
    Timeout: 30,
    Environment: { Variables: Match.objectLike({ LOG_LEVEL: 'debug', WEBHOOK_QUEUE_URL: Match.anyValue() }) },
  });
  template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 180, RedrivePolicy: Match.anyValue() });
});

test("the worker's timeout follows a custom consumer timeout, keeping the queue's visibility at six times it", () => {
  const { template } = build({ consumerTimeout: Duration.seconds(45) });
  template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 45 });
  template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 270, RedrivePolicy: Match.anyValue() });
});

test('alarms when the dead-letter queue holds a message (maximum over 5 minutes)', () => {
  const { stack, queue, delivery, template } = build();
  expect(alarmProperties(stack, template, delivery.deadLetterAlarm)).toEqual(
    expect.objectContaining({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, queue.deadLetterQueue), 'QueueName'] } },
      ],
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    }),
  );
});

test('alarms when a delivery has waited in the queue longer than the whole retry schedule', () => {
  const { stack, queue, delivery, template } = build();
  expect(alarmProperties(stack, template, delivery.backlogAlarm)).toEqual(
    expect.objectContaining({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, queue.queue), 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 900,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
  );
});

test('alarms when over a quarter of at least 10 POST attempts within 5 minutes failed, from the EMF metrics', () => {
  const { stack, delivery, template } = build();
  const properties = alarmProperties(stack, template, delivery.failureRateAlarm);
  expect(properties).toEqual(
    expect.objectContaining({
      Threshold: 0.25,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    }),
  );
  const metric = (id: string, metricName: string) => ({
    Id: id,
    MetricStat: {
      // The worker's EMF lines carry no dimensions, so neither may the alarm's metrics.
      Metric: { Namespace: 'PlivoConnector', MetricName: metricName },
      Period: 300,
      Stat: 'Sum',
    },
    ReturnData: false,
  });
  expect(properties.Metrics).toEqual(
    expect.arrayContaining([
      {
        Id: 'expr_1',
        Expression: 'IF(attempts >= 10, FILL(failures, 0) / attempts, 0)',
        Label: 'Webhook delivery failure rate',
        ReturnData: true,
      },
      metric('attempts', 'WebhookDeliveryAttempts'),
      metric('failures', 'WebhookDeliveryFailures'),
    ]),
  );
  expect(properties.Metrics).toHaveLength(3);
});

test("alarms on the worker's own errors", () => {
  const { stack, delivery, template } = build();
  expect(alarmProperties(stack, template, delivery.errorsAlarm)).toEqual(
    expect.objectContaining({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stack, delivery.worker.function) } }],
      Threshold: 1,
    }),
  );
  expect(delivery.alarms).toEqual([delivery.deadLetterAlarm, delivery.failureRateAlarm, delivery.errorsAlarm, delivery.backlogAlarm]);
});

test('no alarm has an action: they are subscribed to by name', () => {
  build().template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { AlarmActions: Match.anyValue() }, 0);
});
