import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { WebhookQueue, type WebhookQueueProps } from '../../lib/constructs/webhook-queue';
import { testStack } from './helpers';

function queueTemplate(props?: WebhookQueueProps): Template {
  const stack = testStack();
  new WebhookQueue(stack, 'Webhooks', props);
  return Template.fromStack(stack);
}

function logicalId(template: Template, retentionSeconds: number): string {
  const [id] = Object.keys(
    template.findResources('AWS::SQS::Queue', { Properties: { MessageRetentionPeriod: retentionSeconds } }),
  );
  return id!;
}

test('creates a queue and its dead-letter queue', () => {
  queueTemplate().resourceCountIs('AWS::SQS::Queue', 2);
});

test('both queues are encrypted with SQS-managed keys', () => {
  queueTemplate().resourcePropertiesCountIs(
    'AWS::SQS::Queue',
    { SqsManagedSseEnabled: true, KmsMasterKeyId: Match.absent() },
    2,
  );
});

test('both queues refuse requests without TLS', () => {
  const template = queueTemplate();
  for (const retention of [4 * 86400, 14 * 86400]) {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: logicalId(template, retention) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  }
});

test('moves a message to the dead-letter queue after 10 receives, a backstop behind the counted attempts', () => {
  const template = queueTemplate();
  template.hasResourceProperties('AWS::SQS::Queue', {
    RedrivePolicy: {
      deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(template, 14 * 86400), 'Arn'] },
      maxReceiveCount: 10,
    },
  });
});

test('keeps dead letters 14 days, longer than the 4 days of the main queue', () => {
  const template = queueTemplate();
  template.hasResourceProperties('AWS::SQS::Queue', {
    MessageRetentionPeriod: 4 * 86400,
    RedrivePolicy: Match.anyValue(),
  });
  template.hasResourceProperties('AWS::SQS::Queue', {
    MessageRetentionPeriod: 14 * 86400,
    RedrivePolicy: Match.absent(),
  });
});

test('visibility timeout is six times a 30 s consumer timeout by default', () => {
  queueTemplate().hasResourceProperties('AWS::SQS::Queue', {
    VisibilityTimeout: 180,
    RedrivePolicy: Match.anyValue(),
  });
});

test('visibility timeout follows a custom consumer timeout', () => {
  queueTemplate({ consumerTimeout: Duration.minutes(1) }).hasResourceProperties('AWS::SQS::Queue', {
    VisibilityTimeout: 360,
  });
});

test('tells its consumer the timeout it was made for, 30 s by default', () => {
  const stack = testStack();
  expect(new WebhookQueue(stack, 'Default').consumerTimeout.toSeconds()).toBe(30);
  expect(new WebhookQueue(stack, 'Custom', { consumerTimeout: Duration.minutes(1) }).consumerTimeout.toSeconds()).toBe(
    60,
  );
});

test('takes a custom maxReceiveCount', () => {
  queueTemplate({ maxReceiveCount: 3 }).hasResourceProperties('AWS::SQS::Queue', {
    RedrivePolicy: Match.objectLike({ maxReceiveCount: 3 }),
  });
});

test.each([0, 1001, 2.5])('rejects maxReceiveCount %p', (maxReceiveCount) => {
  expect(() => queueTemplate({ maxReceiveCount })).toThrow(/maxReceiveCount must be an integer from 1 to 1000/);
});

test('rejects a consumer timeout longer than Lambda allows', () => {
  expect(() => queueTemplate({ consumerTimeout: Duration.minutes(16) })).toThrow(
    /consumerTimeout must be a Lambda timeout/,
  );
});

test('lets CloudFormation name both queues by default', () => {
  queueTemplate().resourcePropertiesCountIs('AWS::SQS::Queue', { QueueName: Match.absent() }, 2);
});

test('takes a fixed queue name, and names the dead-letter queue after it', () => {
  const template = queueTemplate({ queueName: 'plivo-connector-webhooks' });
  template.hasResourceProperties('AWS::SQS::Queue', {
    QueueName: 'plivo-connector-webhooks',
    RedrivePolicy: Match.anyValue(),
  });
  template.hasResourceProperties('AWS::SQS::Queue', {
    QueueName: 'plivo-connector-webhooks-dlq',
    RedrivePolicy: Match.absent(),
  });
});

test.each(['', 'with.dot', 'x'.repeat(77)])('rejects the queue name %p', (queueName) => {
  expect(() => queueTemplate({ queueName })).toThrow(/queueName must be 1-76 letters, digits/);
});
