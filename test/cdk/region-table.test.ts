import { Match, Template } from 'aws-cdk-lib/assertions';
import { RegionTable } from '../../lib/constructs/region-table';
import { testStack } from './helpers';

function build(regionId = 'in002'): { table: RegionTable; template: Template } {
  const stack = testStack();
  const table = new RegionTable(stack, 'RegionTable', { regionId });
  return { table, template: Template.fromStack(stack) };
}

test('is named plivo-connector-<regionId>-media, a plain string other regions can use', () => {
  const { table, template } = build();
  expect(table.tableName).toBe('plivo-connector-in002-media');
  expect(RegionTable.tableNameFor('us002')).toBe('plivo-connector-us002-media');
  template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'plivo-connector-in002-media' });
});

test('keys items by pk (S) and sk (S), without indexes', () => {
  build().template.hasResourceProperties('AWS::DynamoDB::Table', {
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    AttributeDefinitions: Match.arrayEquals([
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ]),
    GlobalSecondaryIndexes: Match.absent(),
  });
});

test('bills on demand, with point-in-time recovery and TTL on expiresAt', () => {
  build().template.hasResourceProperties('AWS::DynamoDB::Table', {
    BillingMode: 'PAY_PER_REQUEST',
    ProvisionedThroughput: Match.absent(),
    PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
  });
});

test('is encrypted with the AWS managed key, so the home region writes it without key grants', () => {
  build().template.hasResourceProperties('AWS::DynamoDB::Table', {
    SSESpecification: { SSEEnabled: true, SSEType: Match.absent(), KMSMasterKeyId: Match.absent() },
  });
});

test('is deleted with its stack: its items live minutes, and a retained table would block its fixed name', () => {
  build().template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
});

test.each(['US002', 'us2', 'us002-x', ''])('rejects the region id %p', (regionId) => {
  expect(() => build(regionId)).toThrow(/regionId must be two lowercase letters and three digits/);
});
