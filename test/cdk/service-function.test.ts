import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duration, Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ServiceFunction, type ServiceFunctionProps } from '../../lib/constructs/service-function';
import { WebhookQueue } from '../../lib/constructs/webhook-queue';
import { bundlingApp, FIXTURE_ENTRY, testStack } from './helpers';

function build(props: Partial<ServiceFunctionProps> = {}): { stack: Stack; fn: ServiceFunction } {
  const stack = testStack();
  const fn = new ServiceFunction(stack, 'Fn', { entry: FIXTURE_ENTRY, ...props });
  return { stack, fn };
}

function functionTemplate(props: Partial<ServiceFunctionProps> = {}): Template {
  return Template.fromStack(build(props).stack);
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Statements of the function role's policy. */
function statements(template: Template): Statement[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy'));
  expect(policies).toHaveLength(1);
  return (policies[0] as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
    .Statement;
}

describe('runtime settings', () => {
  test('runs Node.js 22 on arm64 without X-Ray tracing (nothing would record its SDK calls)', () => {
    const template = functionTemplate();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      TracingConfig: Match.absent(),
      Handler: 'index.handler',
    });
    expect(JSON.stringify(template.toJSON())).not.toContain('xray:');
  });

  test('defaults to 256 MB and 10 s', () => {
    functionTemplate().hasResourceProperties('AWS::Lambda::Function', { MemorySize: 256, Timeout: 10 });
  });

  test('takes custom memory, timeout and handler name', () => {
    functionTemplate({ memorySize: 1024, timeout: Duration.seconds(30), handler: 'main' }).hasResourceProperties(
      'AWS::Lambda::Function',
      { MemorySize: 1024, Timeout: 30, Handler: 'index.main' },
    );
  });

  test('enables source-mapped stack traces and keeps caller environment', () => {
    functionTemplate({ environment: { LOG_LEVEL: 'debug' } }).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps', LOG_LEVEL: 'debug' } },
    });
  });
});

describe('logging', () => {
  test('logs to its own log group kept one month by default', () => {
    const template = functionTemplate();
    template.resourceCountIs('AWS::Logs::LogGroup', 1);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    const [logGroupId] = Object.keys(template.findResources('AWS::Logs::LogGroup'));
    template.hasResourceProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: logGroupId } } });
  });

  test('takes a custom log retention', () => {
    functionTemplate({ logRetention: RetentionDays.ONE_WEEK }).hasResourceProperties('AWS::Logs::LogGroup', {
      RetentionInDays: 7,
    });
  });
});

describe('role', () => {
  test('has no AWS managed policy', () => {
    functionTemplate().hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
      },
      ManagedPolicyArns: Match.absent(),
    });
  });

  test('may write only to its own log group', () => {
    const template = functionTemplate();
    const [logGroupId] = Object.keys(template.findResources('AWS::Logs::LogGroup'));
    expect(statements(template)).toContainEqual({
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
    });
  });

  test('has no wildcard resource', () => {
    const wildcard = statements(functionTemplate()).filter((s) => (s as { Resource: unknown }).Resource === '*');
    expect(wildcard).toEqual([]);
  });

  test('the function is created after its permissions', () => {
    const template = functionTemplate();
    const [policyId] = Object.keys(template.findResources('AWS::IAM::Policy'));
    template.hasResource('AWS::Lambda::Function', { DependsOn: Match.arrayWith([policyId]) });
  });
});

describe('useTable', () => {
  function withTable(): Template {
    const { stack, fn } = build();
    const table = new Table(stack, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: new Key(stack, 'TableKey'),
    });
    fn.useTable(table);
    return Template.fromStack(stack);
  }

  test('sets TABLE_NAME', () => {
    const template = withTable();
    const [tableId] = Object.keys(template.findResources('AWS::DynamoDB::Table'));
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TABLE_NAME: { Ref: tableId } }) },
    });
  });

  test('grants read and write on that table only', () => {
    const template = withTable();
    const [tableId] = Object.keys(template.findResources('AWS::DynamoDB::Table'));
    expect(statements(template)).toContainEqual({
      Effect: 'Allow',
      Action: expect.arrayContaining([
        'dynamodb:GetItem',
        'dynamodb:Query',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
      ]),
      Resource: { 'Fn::GetAtt': [tableId, 'Arn'] },
    });
  });

  test("grants use of the table's key", () => {
    const template = withTable();
    const [keyId] = Object.keys(template.findResources('AWS::KMS::Key'));
    expect(statements(template)).toContainEqual({
      Effect: 'Allow',
      Action: expect.arrayContaining(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*']),
      Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
  });
});

describe('useTable with actions', () => {
  function withTable(actions: Parameters<ServiceFunction['useTable']>[1]): Template {
    const { stack, fn } = build();
    const table = new Table(stack, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: new Key(stack, 'TableKey'),
    });
    table.addGlobalSecondaryIndex({ indexName: 'byTime', partitionKey: { name: 'g', type: AttributeType.STRING } });
    fn.useTable(table, actions);
    return Template.fromStack(stack);
  }

  test('grants exactly those actions, on the table and none of its indexes', () => {
    const template = withTable(['dynamodb:GetItem', 'dynamodb:PutItem']);
    const [tableId] = Object.keys(template.findResources('AWS::DynamoDB::Table'));
    const dynamo = statements(template).filter((s) => JSON.stringify(s).includes('dynamodb:'));
    expect(dynamo).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        Resource: { 'Fn::GetAtt': [tableId, 'Arn'] },
      },
    ]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TABLE_NAME: { Ref: tableId } }) },
    });
  });

  test("writes get the table key's read and write actions, as DynamoDB needs them for the caller", () => {
    const template = withTable(['dynamodb:UpdateItem']);
    const [keyId] = Object.keys(template.findResources('AWS::KMS::Key'));
    expect(statements(template)).toContainEqual({
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
      Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
  });

  test("reads get only the table key's read actions", () => {
    const template = withTable(['dynamodb:GetItem', 'dynamodb:Query']);
    const [keyId] = Object.keys(template.findResources('AWS::KMS::Key'));
    expect(statements(template)).toContainEqual({
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:DescribeKey'],
      Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
  });

  test('rejects an empty list of actions', () => {
    expect(() => withTable([])).toThrow(/useTable needs at least one action/);
  });
});

describe('useKey', () => {
  function withKey(): Template {
    const { stack, fn } = build();
    fn.useKey(new Key(stack, 'DataKey'));
    return Template.fromStack(stack);
  }

  test('sets KMS_KEY_ID to the key ARN', () => {
    const template = withKey();
    const [keyId] = Object.keys(template.findResources('AWS::KMS::Key'));
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ KMS_KEY_ID: { 'Fn::GetAtt': [keyId, 'Arn'] } }) },
    });
  });

  test('grants kms:Encrypt and kms:Decrypt and nothing else on the key', () => {
    const template = withKey();
    const [keyId] = Object.keys(template.findResources('AWS::KMS::Key'));
    const onKey = statements(template).filter(
      (s) => JSON.stringify((s as { Resource: unknown }).Resource) === JSON.stringify({ 'Fn::GetAtt': [keyId, 'Arn'] }),
    );
    expect(onKey).toEqual([
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:Encrypt'], Resource: { 'Fn::GetAtt': [keyId, 'Arn'] } },
    ]);
  });
});

describe('useKey for decryption only', () => {
  test('grants kms:Decrypt alone and sets KMS_KEY_ID', () => {
    const { stack, fn } = build();
    fn.useKey(new Key(stack, 'DataKey'), 'decrypt');
    const template = Template.fromStack(stack);
    const [keyId] = Object.keys(template.findResources('AWS::KMS::Key'));
    const keyArn = { 'Fn::GetAtt': [keyId, 'Arn'] };
    const onKey = statements(template).filter(
      (s) => JSON.stringify((s as { Resource: unknown }).Resource) === JSON.stringify(keyArn),
    );
    expect(onKey).toEqual([{ Effect: 'Allow', Action: 'kms:Decrypt', Resource: keyArn }]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ KMS_KEY_ID: keyArn }) },
    });
  });
});

describe('useKey without access', () => {
  test('sets KMS_KEY_ID and grants nothing on the key', () => {
    const { stack, fn } = build();
    fn.useKey(new Key(stack, 'DataKey'), 'none');
    const template = Template.fromStack(stack);
    const [keyId] = Object.keys(template.findResources('AWS::KMS::Key'));
    const keyArn = { 'Fn::GetAtt': [keyId, 'Arn'] };
    expect(JSON.stringify(statements(template))).not.toContain('kms:');
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ KMS_KEY_ID: keyArn }) },
    });
  });
});

describe('useSigningKey', () => {
  function withSigningKey(access: 'publish' | 'sign'): { template: Template; keyArn: unknown } {
    const { stack, fn } = build();
    fn.useSigningKey(new Key(stack, 'SigningKey'), access);
    const template = Template.fromStack(stack);
    const [keyId] = Object.keys(template.findResources('AWS::KMS::Key'));
    return { template, keyArn: { 'Fn::GetAtt': [keyId, 'Arn'] } };
  }

  test('publish: kms:GetPublicKey alone, and WEBHOOK_SIGNING_KEY_ID', () => {
    const { template, keyArn } = withSigningKey('publish');
    expect(statements(template).filter((s) => JSON.stringify(s).includes('kms:'))).toEqual([
      { Effect: 'Allow', Action: 'kms:GetPublicKey', Resource: keyArn },
    ]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ WEBHOOK_SIGNING_KEY_ID: keyArn }) },
    });
  });

  test('sign: kms:GetPublicKey and kms:Sign, and WEBHOOK_SIGNING_KEY_ID', () => {
    const { template, keyArn } = withSigningKey('sign');
    expect(statements(template).filter((s) => JSON.stringify(s).includes('kms:'))).toEqual([
      { Effect: 'Allow', Action: ['kms:GetPublicKey', 'kms:Sign'], Resource: keyArn },
    ]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ WEBHOOK_SIGNING_KEY_ID: keyArn }) },
    });
  });
});

describe('useWebhookQueue', () => {
  /** The function and a WebhookQueue with a 30 s consumer timeout, in one stack. */
  function withQueue(
    access: 'send' | 'deliver' | undefined,
    props: Partial<ServiceFunctionProps> = {},
  ): { template: Template; queueArn: unknown; dlqArn: unknown; queueUrl: unknown; dlqUrl: unknown } {
    const { stack, fn } = build(props);
    const webhooks = new WebhookQueue(stack, 'Webhooks');
    fn.useWebhookQueue(webhooks, access);
    const template = Template.fromStack(stack);
    const id = (construct: WebhookQueue['queue']) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
    return {
      template,
      queueArn: { 'Fn::GetAtt': [id(webhooks.queue), 'Arn'] },
      dlqArn: { 'Fn::GetAtt': [id(webhooks.deadLetterQueue), 'Arn'] },
      queueUrl: { Ref: id(webhooks.queue) },
      dlqUrl: { Ref: id(webhooks.deadLetterQueue) },
    };
  }
  const sqsStatements = (template: Template) => statements(template).filter((s) => JSON.stringify(s).includes('sqs:'));

  test('send (the default): sqs:SendMessage on the queue only, and WEBHOOK_QUEUE_URL', () => {
    const { template, queueArn, queueUrl } = withQueue(undefined);
    expect(sqsStatements(template)).toEqual([
      {
        Effect: 'Allow',
        Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
        Resource: queueArn,
      },
    ]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ WEBHOOK_QUEUE_URL: queueUrl, WEBHOOK_DLQ_URL: Match.absent() }) },
    });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
  });

  test('deliver: consumes the queue in batches of 10, reporting failed items, without a batching window', () => {
    const { template, queueArn } = withQueue('deliver', { timeout: Duration.seconds(30) });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: queueArn,
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
  });

  test('deliver: may receive, delete and delay messages of the queue but not send to it; sends to the DLQ', () => {
    const { template, queueArn, dlqArn } = withQueue('deliver', { timeout: Duration.seconds(30) });
    const onQueue = sqsStatements(template).filter((s) => JSON.stringify(s.Resource) === JSON.stringify(queueArn));
    expect(onQueue).toHaveLength(1);
    expect(onQueue[0]!.Action).toEqual(
      expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']),
    );
    expect(onQueue[0]!.Action).not.toContain('sqs:SendMessage');
    const onDlq = sqsStatements(template).filter((s) => JSON.stringify(s.Resource) === JSON.stringify(dlqArn));
    expect(onDlq).toEqual([
      { Effect: 'Allow', Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'], Resource: dlqArn },
    ]);
  });

  test('deliver: sets WEBHOOK_QUEUE_URL and WEBHOOK_DLQ_URL', () => {
    const { template, queueUrl, dlqUrl } = withQueue('deliver', { timeout: Duration.seconds(30) });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ WEBHOOK_QUEUE_URL: queueUrl, WEBHOOK_DLQ_URL: dlqUrl }) },
    });
  });

  test("deliver: refuses a function that may outlive the queue's consumer timeout", () => {
    expect(() => withQueue('deliver', { timeout: Duration.seconds(31) })).toThrow(
      /may run at most the queue's consumerTimeout \(30 seconds\).*got a timeout of 31 seconds/,
    );
  });
});

describe('addErrorsAlarm', () => {
  test("alarms on one or more of the function's errors within 5 minutes, treating no data as fine", () => {
    const { stack, fn } = build();
    const alarm = fn.addErrorsAlarm();
    const template = Template.fromStack(stack);
    const [functionId] = Object.keys(template.findResources('AWS::Lambda::Function'));
    template.resourceCountIs('AWS::CloudWatch::Alarm', 1);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId } }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: Match.absent(),
    });
    expect(stack.getLogicalId(alarm.node.defaultChild as CfnElement)).toBe(
      Object.keys(template.findResources('AWS::CloudWatch::Alarm'))[0],
    );
  });
});

describe('useTablesByArn', () => {
  const arns = [
    'arn:aws:dynamodb:ap-south-1:123456789012:table/one',
    'arn:aws:dynamodb:us-east-1:123456789012:table/two',
  ];

  test('grants the given actions and nothing else on exactly those tables', () => {
    const { stack, fn } = build();
    fn.useTablesByArn(arns, ['dynamodb:Query', 'dynamodb:DeleteItem']);
    const dynamo = statements(Template.fromStack(stack)).filter((s) => JSON.stringify(s).includes('dynamodb:'));
    expect(dynamo).toEqual([{ Effect: 'Allow', Action: ['dynamodb:DeleteItem', 'dynamodb:Query'], Resource: arns }]);
  });

  test('narrows them to the items whose partition key starts with one of the prefixes given (dynamodb:LeadingKeys)', () => {
    const { stack, fn } = build();
    fn.useTablesByArn(arns, ['dynamodb:PutItem'], ['CMD#', 'X#']);
    const dynamo = statements(Template.fromStack(stack)).filter((s) => JSON.stringify(s).includes('dynamodb:'));
    expect(dynamo).toEqual([
      { Effect: 'Allow', Action: 'dynamodb:PutItem', Resource: arns, Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CMD#*', 'X#*'] } } },
    ]);
  });

  test('rejects an empty list of tables, of actions, or of partition key prefixes', () => {
    expect(() => build().fn.useTablesByArn([], ['dynamodb:PutItem'])).toThrow(/useTablesByArn needs table ARNs/);
    expect(() => build().fn.useTablesByArn(arns, [])).toThrow(/useTablesByArn needs actions/);
    expect(() => build().fn.useTablesByArn(arns, ['dynamodb:PutItem'], [])).toThrow(/partitionKeyPrefixes, when given, must name at least one prefix/);
  });
});

describe('invalid props', () => {
  test('rejects a relative entry', () => {
    expect(() => build({ entry: 'lambdas/api/handler.ts' })).toThrow(/entry must be an absolute path/);
  });

  test.each([64, 10241, 300.5])('rejects memorySize %p', (memorySize) => {
    expect(() => build({ memorySize })).toThrow(/memorySize must be an integer number of MB from 128 to 10240/);
  });

  test('rejects a timeout over 15 minutes', () => {
    expect(() => build({ timeout: Duration.minutes(16) })).toThrow(/timeout must be from 1 second to 15 minutes/);
  });

  test('rejects NODE_OPTIONS in environment', () => {
    expect(() => build({ environment: { NODE_OPTIONS: '--inspect' } })).toThrow(
      /NODE_OPTIONS is set by ServiceFunction/,
    );
  });
});

test('bundles with the local esbuild: minified, with a source map', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'service-function-'));
  try {
    const app = bundlingApp(outdir);
    new ServiceFunction(new Stack(app, 'Bundled'), 'Fn', { entry: FIXTURE_ENTRY });
    app.synth();
    const assets = fs.readdirSync(outdir).filter((name) => name.startsWith('asset.'));
    expect(assets).toHaveLength(1);
    const files = fs.readdirSync(path.join(outdir, assets[0]!)).sort();
    expect(files).toEqual(['index.js', 'index.js.map']);
    const code = fs.readFileSync(path.join(outdir, assets[0]!, 'index.js'), 'utf8');
    // Minified: the module body on one line, then the source map comment.
    expect(code.trimEnd().split('\n')).toEqual([expect.any(String), '//# sourceMappingURL=index.js.map']);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});
