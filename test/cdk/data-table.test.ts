import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { TABLE_KEYS } from '../../core/dynamo';
import { DataTable, type DataTableProps } from '../../lib/constructs/data-table';
import { testStack } from './helpers';

function tableTemplate(props: Partial<DataTableProps> = {}): Template {
  const stack = testStack();
  new DataTable(stack, 'Data', { encryptionKey: new Key(stack, 'Key'), ...props });
  return Template.fromStack(stack);
}

test('keys items by pk (S) and sk (S)', () => {
  tableTemplate().hasResourceProperties('AWS::DynamoDB::Table', {
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    AttributeDefinitions: Match.arrayWith([
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ]),
  });
});

test('has exactly three global secondary indexes: byTime projecting the call log\'s filter fields, due and outbox projecting keys only', () => {
  tableTemplate().hasResourceProperties('AWS::DynamoDB::Table', {
    AttributeDefinitions: Match.arrayEquals([
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'gsi1pk', AttributeType: 'S' },
      { AttributeName: 'gsi1sk', AttributeType: 'S' },
      { AttributeName: 'duePk', AttributeType: 'S' },
      { AttributeName: 'dueSk', AttributeType: 'S' },
      { AttributeName: 'outboxPk', AttributeType: 'S' },
      { AttributeName: 'outboxSk', AttributeType: 'S' },
    ]),
    GlobalSecondaryIndexes: [
      {
        IndexName: 'byTime',
        KeySchema: [
          { AttributeName: 'gsi1pk', KeyType: 'HASH' },
          { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['roomId', 'ruleId', 'direction', 'from', 'to', 'hidePhoneNumber'] },
      },
      {
        IndexName: 'due',
        KeySchema: [
          { AttributeName: 'duePk', KeyType: 'HASH' },
          { AttributeName: 'dueSk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
      {
        IndexName: 'outbox',
        KeySchema: [
          { AttributeName: 'outboxPk', KeyType: 'HASH' },
          { AttributeName: 'outboxSk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
  });
});

test.each(['byTime', 'due', 'outbox'] as const)('the %s index follows TABLE_KEYS, which the stores query', (index) => {
  tableTemplate().hasResourceProperties('AWS::DynamoDB::Table', {
    GlobalSecondaryIndexes: Match.arrayWith([
      Match.objectLike({
        IndexName: TABLE_KEYS[index].indexName,
        KeySchema: [
          { AttributeName: TABLE_KEYS[index].partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS[index].sortKey, KeyType: 'RANGE' },
        ],
      }),
    ]),
  });
});

test('bills on demand', () => {
  tableTemplate().hasResourceProperties('AWS::DynamoDB::Table', {
    BillingMode: 'PAY_PER_REQUEST',
    ProvisionedThroughput: Match.absent(),
  });
});

test('has point-in-time recovery', () => {
  tableTemplate().hasResourceProperties('AWS::DynamoDB::Table', {
    PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
  });
});

test('expires items by the expiresAt attribute', () => {
  tableTemplate().hasResourceProperties('AWS::DynamoDB::Table', {
    TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
  });
});

test('is encrypted with the given customer managed key', () => {
  const template = tableTemplate();
  const keyId = Object.keys(template.findResources('AWS::KMS::Key'))[0]!;
  template.hasResourceProperties('AWS::DynamoDB::Table', {
    SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } },
  });
});

test('is retained on stack deletion by default', () => {
  tableTemplate().hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
});

test('takes another removal policy when asked', () => {
  tableTemplate({ removalPolicy: RemovalPolicy.DESTROY }).hasResource('AWS::DynamoDB::Table', {
    DeletionPolicy: 'Delete',
  });
});

test('lets CloudFormation name the table by default', () => {
  tableTemplate().hasResourceProperties('AWS::DynamoDB::Table', { TableName: Match.absent() });
});

test('takes a fixed physical name, for stacks in other regions', () => {
  tableTemplate({ tableName: 'plivo-connector-data' }).hasResourceProperties('AWS::DynamoDB::Table', {
    TableName: 'plivo-connector-data',
  });
});

test.each(['ab', 'has space', 'x'.repeat(256)])('rejects the table name %p', (tableName) => {
  expect(() => tableTemplate({ tableName })).toThrow(/tableName must be 3-255 letters, digits/);
});
