import { Stack } from 'aws-cdk-lib';
import { CONTROL_PLANE_NAMES, controlPlaneReferences } from '../../lib/control-plane-names';
import { testApp } from './helpers';

/** References as a media stack in ap-south-1 computes them for a control plane in us-east-1. */
function references(account?: string) {
  const stack = new Stack(testApp(), 'Media', { env: { region: 'ap-south-1', account } });
  const refs = controlPlaneReferences(stack, 'us-east-1');
  return { stack, refs, resolved: stack.resolve(refs) as Record<string, unknown> };
}

const accountJoin = (before: string, after: string) => ({
  'Fn::Join': ['', [before, { Ref: 'AWS::AccountId' }, after]],
});

test('the fixed names', () => {
  expect(CONTROL_PLANE_NAMES).toEqual({
    dataTable: 'plivo-connector-data',
    dataKeyAlias: 'alias/plivo-connector-data',
    tableKeyAlias: 'alias/plivo-connector-table',
    webhookQueue: 'plivo-connector-webhooks',
  });
});

test("are all in the control plane's AWS region, not the referring stack's", () => {
  const { refs } = references('123456789012');
  expect(refs.awsRegion).toBe('us-east-1');
  for (const value of [refs.tableArn, refs.keysArn, refs.dataKeyAliasArn, refs.webhookQueueArn]) {
    expect(value).toMatch(/^arn:aws:[a-z]+:us-east-1:123456789012:/);
  }
});

test("name the table, its indexes, the keys and the queue by ARN in the referring stack's account", () => {
  const { resolved } = references();
  expect(resolved).toEqual({
    awsRegion: 'us-east-1',
    tableName: 'plivo-connector-data',
    tableArn: accountJoin('arn:aws:dynamodb:us-east-1:', ':table/plivo-connector-data'),
    tableIndexesArn: accountJoin('arn:aws:dynamodb:us-east-1:', ':table/plivo-connector-data/index/*'),
    keysArn: accountJoin('arn:aws:kms:us-east-1:', ':key/*'),
    dataKeyAlias: 'alias/plivo-connector-data',
    dataKeyAliasArn: accountJoin('arn:aws:kms:us-east-1:', ':alias/plivo-connector-data'),
    tableKeyAlias: 'alias/plivo-connector-table',
    dynamoDbServiceName: { 'Fn::Join': ['', ['dynamodb.us-east-1.', { Ref: 'AWS::URLSuffix' }]] },
    webhookQueueUrl: {
      'Fn::Join': [
        '',
        ['https://sqs.us-east-1.', { Ref: 'AWS::URLSuffix' }, '/', { Ref: 'AWS::AccountId' }, '/plivo-connector-webhooks'],
      ],
    },
    webhookQueueArn: accountJoin('arn:aws:sqs:us-east-1:', ':plivo-connector-webhooks'),
  });
});

test('with a known account, the queue URL is the one SQS gives the named queue', () => {
  const { stack, refs } = references('123456789012');
  expect(stack.resolve(refs.webhookQueueUrl)).toEqual({
    'Fn::Join': [
      '',
      ['https://sqs.us-east-1.', { Ref: 'AWS::URLSuffix' }, '/123456789012/plivo-connector-webhooks'],
    ],
  });
});
