import type { CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { Sweeper } from '../../lib/constructs/sweeper';
import { FIXTURE_ENTRY, testStack } from './helpers';

function build(): { stack: Stack; sweeper: Sweeper; template: Template } {
  const stack = testStack();
  const sweeper = new Sweeper(stack, 'Sweeper', { entry: FIXTURE_ENTRY, environment: { LOG_LEVEL: 'debug' } });
  return { stack, sweeper, template: Template.fromStack(stack) };
}

function logicalId(stack: Stack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

test('runs the sweeper function every minute', () => {
  const { stack, sweeper, template } = build();
  const functionArn = { 'Fn::GetAtt': [logicalId(stack, sweeper.worker.function), 'Arn'] };
  template.resourceCountIs('AWS::Events::Rule', 1);
  template.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: 'rate(1 minute)',
    State: 'ENABLED',
    Targets: [Match.objectLike({ Arn: functionArn })],
  });
  template.hasResourceProperties('AWS::Lambda::Permission', {
    Action: 'lambda:InvokeFunction',
    FunctionName: functionArn,
    Principal: 'events.amazonaws.com',
    SourceArn: { 'Fn::GetAtt': [logicalId(stack, sweeper.schedule), 'Arn'] },
  });
});

test('has a 60 s timeout and keeps the environment it is given', () => {
  build().template.hasResourceProperties('AWS::Lambda::Function', {
    Timeout: 60,
    Environment: { Variables: Match.objectLike({ LOG_LEVEL: 'debug' }) },
  });
});

test('a failed sweep is not retried: the next one a minute later picks up what it left', () => {
  const { stack, sweeper, template } = build();
  template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
    FunctionName: { Ref: logicalId(stack, sweeper.worker.function) },
    MaximumRetryAttempts: 0,
  });
});

test('alarms on its errors', () => {
  const { stack, sweeper, template } = build();
  template.resourceCountIs('AWS::CloudWatch::Alarm', 1);
  template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    MetricName: 'Errors',
    Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stack, sweeper.worker.function) } }],
    Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
  });
  expect(logicalId(stack, sweeper.errorsAlarm)).toBe(Object.keys(template.findResources('AWS::CloudWatch::Alarm'))[0]);
});
