import { Token, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { CLAIM_PARTITION_PREFIX } from '../../core/claims';
import { loadControlPlaneConfig } from '../../core/config';
import { COMMAND_PARTITION_PREFIX } from '../../core/media-commands';
import { PLACEMENT_PARTITION_PREFIX, SERVERS_PK } from '../../core/placement';
import type { ServiceFunction } from '../../lib/constructs/service-function';
import {
  ControlPlaneStack,
  type ControlPlaneStackProps,
  type MediaRegionTarget,
} from '../../lib/control-plane-stack';
import { HTTP_FUNCTIONS, type HttpFunctionName } from '../../lambdas/routes';
import { capturingReport, testApp } from './helpers';

const CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';

/** Without a domainName, as cdk.json has them; synth warns about each (see `buildQuietly`). */
const REGIONS_WITHOUT_DOMAINS: readonly MediaRegionTarget[] = [
  { id: 'us002', awsRegion: 'us-east-1', claimsTableName: 'plivo-connector-us002-media', recordingsBucketName: 'plivo-connector-recordings-us002' },
  { id: 'in002', awsRegion: 'ap-south-1', claimsTableName: 'plivo-connector-in002-media', recordingsBucketName: 'plivo-connector-recordings-in002' },
];
const REGIONS: readonly MediaRegionTarget[] = [
  { ...REGIONS_WITHOUT_DOMAINS[0]!, domainName: 'media-us.example.com' },
  { ...REGIONS_WITHOUT_DOMAINS[1]!, domainName: 'media-in.example.com' },
];

function build(props: Partial<ControlPlaneStackProps> = {}): { stack: ControlPlaneStack; template: Template } {
  const stack = new ControlPlaneStack(testApp(), 'ControlPlane', {
    env: { region: 'us-east-1' },
    mediaRegions: REGIONS,
    homeMediaRegionId: 'us002',
    countryRegions: { IN: 'in002' },
    ...props,
  });
  return { stack, template: Template.fromStack(stack) };
}

const builds = new Map<string, ReturnType<typeof build>>();
/**
 * The stack for `props`, built once per file (a build with its synth takes a tenth of a second or more, and
 * `describe.each` asks for the same ones again): the tests that take it only read its constructs and template.
 */
function built(props: Partial<ControlPlaneStackProps> = {}): ReturnType<typeof build> {
  const key = JSON.stringify(props);
  const cached = builds.get(key) ?? build(props);
  builds.set(key, cached);
  return cached;
}

/** Builds with a media region lacking a domainName: synth prints a warning report, returned here. */
function buildQuietly(props: Partial<ControlPlaneStackProps>): ReturnType<typeof build> & { report: string } {
  const { result, report } = capturingReport(() => build(props));
  return { ...result, report };
}

const withDomain = { apiDomainName: 'api.example.com', apiCertificateArn: CERTIFICATE_ARN };
const FUNCTION_NAMES = Object.keys(HTTP_FUNCTIONS) as HttpFunctionName[];

/** The HTTP functions, and those no route reaches. */
type FunctionName = HttpFunctionName | 'delivery' | 'sweeper';
const ALL_FUNCTION_NAMES: readonly FunctionName[] = [...FUNCTION_NAMES, 'delivery', 'sweeper'];

function fnOf(stack: ControlPlaneStack, name: FunctionName): ServiceFunction {
  if (name === 'delivery') return stack.webhookDelivery.worker;
  if (name === 'sweeper') return stack.sweeper.worker;
  return stack.functions[name];
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** The logical id of a construct's CloudFormation resource. */
function logicalId(stack: ControlPlaneStack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

function variables(stack: ControlPlaneStack, template: Template, fn: ServiceFunction): Record<string, unknown> {
  const resources = template.findResources('AWS::Lambda::Function') as Record<
    string,
    { Properties: { Environment: { Variables: Record<string, unknown> } } }
  >;
  return resources[logicalId(stack, fn.function)]!.Properties.Environment.Variables;
}

/** The statements of the policy attached to `fn`'s role. */
function statements(stack: ControlPlaneStack, template: Template, fn: ServiceFunction): Statement[] {
  const policies = Object.values(
    template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: logicalId(stack, fn.role) }] } }),
  ) as { Properties: { PolicyDocument: { Statement: Statement[] } } }[];
  expect(policies).toHaveLength(1);
  return policies[0]!.Properties.PolicyDocument.Statement;
}

function onResource(all: Statement[], resource: unknown): Statement[] {
  return all.filter((s) => JSON.stringify(s.Resource) === JSON.stringify(resource));
}

function regionTableArn(awsRegion: string, name: string): unknown {
  return { 'Fn::Join': ['', [`arn:aws:dynamodb:${awsRegion}:`, { Ref: 'AWS::AccountId' }, `:table/${name}`]] };
}

describe('resources', () => {
  test("creates three keys, one table, two queues, four functions, one HTTP API, one schedule, seven alarms (two for the media regions' degraded streams), one dashboard", () => {
    const { template } = built();
    template.resourceCountIs('AWS::KMS::Key', 3);
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.resourceCountIs('AWS::Lambda::Function', 4);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 7);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  test('has one function per HTTP_FUNCTIONS entry, each with its own role', () => {
    const { stack } = built();
    expect(Object.keys(stack.functions).sort()).toEqual([...FUNCTION_NAMES].sort());
    expect(stack.apiFunction).toBe(stack.functions.api);
    expect(stack.answerFunction).toBe(stack.functions.answer);
    expect(stack.apiFunction.role).not.toBe(stack.answerFunction.role);
  });

  test('every function, the delivery worker and the sweeper included, has a role of its own', () => {
    const { stack } = built();
    expect(stack.allFunctions).toHaveLength(4);
    expect(new Set(stack.allFunctions.map((fn) => fn.role)).size).toBe(4);
    expect(stack.allFunctions).toEqual(expect.arrayContaining(ALL_FUNCTION_NAMES.map((name) => fnOf(stack, name))));
  });

  test('the table has the due index the sweeper queries', () => {
    const { template } = built();
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({ IndexName: 'due', Projection: { ProjectionType: 'KEYS_ONLY' } }),
      ]),
    });
  });

  test('encrypts the table with the table key, not the secrets key', () => {
    const { stack, template } = built();
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: Match.objectLike({
        KMSMasterKeyId: { 'Fn::GetAtt': [logicalId(stack, stack.keys.tableKey), 'Arn'] },
      }),
    });
  });

  test('names the table, the data and table keys (by alias) and both queues by CONTROL_PLANE_NAMES', () => {
    const { stack, template } = built();
    template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'plivo-connector-data' });
    template.resourceCountIs('AWS::KMS::Alias', 2);
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/plivo-connector-data',
      TargetKeyId: { 'Fn::GetAtt': [logicalId(stack, stack.keys.dataKey), 'Arn'] },
    });
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/plivo-connector-table',
      TargetKeyId: { 'Fn::GetAtt': [logicalId(stack, stack.keys.tableKey), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'plivo-connector-webhooks',
      RedrivePolicy: Match.anyValue(),
    });
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'plivo-connector-webhooks-dlq' });
  });

  test('holds no secret: no Secrets Manager secret or SSM parameter', () => {
    const { template } = built();
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.resourceCountIs('AWS::SSM::Parameter', 0);
  });

  test('has no circular references (PUBLIC_URL reads the API id), with or without a custom domain', () => {
    // Template.fromStack refuses a template whose resources depend on each other in a loop.
    expect(() => built()).not.toThrow();
    expect(() => built(withDomain)).not.toThrow();
  });
});

describe('API throttles', () => {
  test('every route has its own budget from HTTP_FUNCTIONS: the Answer URL never shares the REST API\'s', () => {
    const stage = Object.values(built().template.findResources('AWS::ApiGatewayV2::Stage'))[0] as {
      Properties: { RouteSettings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> };
    };
    const expected = Object.fromEntries(
      FUNCTION_NAMES.flatMap((name) =>
        HTTP_FUNCTIONS[name].routes.map((key) => [
          key,
          { ThrottlingRateLimit: HTTP_FUNCTIONS[name].throttle.rateLimit, ThrottlingBurstLimit: HTTP_FUNCTIONS[name].throttle.burstLimit },
        ]),
      ),
    );
    expect(stage.Properties.RouteSettings).toEqual(expected);
    expect(stage.Properties.RouteSettings['ANY /v2/hooks/plivo/{key}']).toEqual({ ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 });
    expect(stage.Properties.RouteSettings['ANY /v2/connectors']).toEqual({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
  });
});

describe('invalid props', () => {
  test('rejects an empty list of media regions', () => {
    expect(() => build({ mediaRegions: [] })).toThrow(/mediaRegions must name at least one media region/);
  });

  test('rejects a home region that is not a media region', () => {
    expect(() => build({ homeMediaRegionId: 'eu001' })).toThrow(
      /homeMediaRegionId "eu001" is none of the mediaRegions \(us002, in002\)/,
    );
  });

  test('rejects countryRegions naming an unknown region', () => {
    expect(() => build({ countryRegions: { IN: 'in001' } })).toThrow(
      /countryRegions maps IN to "in001", none of the mediaRegions/,
    );
  });

  test.each([-1, 2.5, 100_001])('rejects tenantRateLimit %p', (tenantRateLimit) => {
    expect(() => build({ tenantRateLimit })).toThrow(
      /tenantRateLimit must be a whole number of requests per second, 0-100000 \(0: no per-tenant limit\)/,
    );
  });

  test.each([['10.0.0.0'], ['10.0.0.0/33'], ['not-an-ip/8']])('rejects plivoSourceRanges %p', (range) => {
    expect(() => build({ plivoSourceRanges: [range] })).toThrow(/plivoSourceRanges: .* is not a CIDR range/);
  });

  test("rejects a claims table name that is a token, such as another region's table.tableName", () => {
    const mediaRegions = [{ ...REGIONS[0]!, claimsTableName: Token.asString({ Ref: 'Elsewhere' }) }];
    expect(() => build({ mediaRegions })).toThrow(/claimsTableName of us002 must be a plain name/);
  });
});

describe.each(ALL_FUNCTION_NAMES)('%s function environment', (name) => {
  test('is exactly the control-plane configuration, with no secret', () => {
    const { stack, template } = built();
    expect(variables(stack, template, fnOf(stack, name))).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      TABLE_NAME: { Ref: logicalId(stack, stack.dataTable.table) },
      KMS_KEY_ID: { 'Fn::GetAtt': [logicalId(stack, stack.keys.dataKey), 'Arn'] },
      PUBLIC_URL: { 'Fn::GetAtt': [logicalId(stack, stack.api.httpApi), 'ApiEndpoint'] },
      MEDIA_REGIONS: expect.any(String),
      HOME_MEDIA_REGION: 'us002',
      COUNTRY_REGIONS: 'IN=in002',
      LOG_LEVEL: 'info',
      WEBHOOK_QUEUE_URL: { Ref: logicalId(stack, stack.webhookQueue.queue) },
      // The API publishes the webhook key's public half, the delivery worker signs with the key.
      ...((name === 'api' || name === 'delivery') && {
        WEBHOOK_SIGNING_KEY_ID: { 'Fn::GetAtt': [logicalId(stack, stack.keys.webhookSigningKey), 'Arn'] },
      }),
      // Only the delivery worker dead-letters.
      ...(name === 'delivery' && { WEBHOOK_DLQ_URL: { Ref: logicalId(stack, stack.webhookQueue.deadLetterQueue) } }),
      // Only the REST API counts tenants' requests.
      ...(name === 'api' && { TENANT_RATE_LIMIT: '50' }),
    });
  });

  test("MEDIA_REGIONS names each region's table, recordings bucket, AWS region and wss:// ingest on its domainName", () => {
    const { stack, template } = built();
    expect(JSON.parse(variables(stack, template, fnOf(stack, name)).MEDIA_REGIONS as string)).toEqual({
      us002: {
        ingestUrl: 'wss://media-us.example.com',
        claimsTable: 'plivo-connector-us002-media',
        recordingsBucket: 'plivo-connector-recordings-us002',
        awsRegion: 'us-east-1',
      },
      in002: {
        ingestUrl: 'wss://media-in.example.com',
        claimsTable: 'plivo-connector-in002-media',
        recordingsBucket: 'plivo-connector-recordings-in002',
        awsRegion: 'ap-south-1',
      },
    });
  });

  test('MEDIA_REGIONS has a never-resolving placeholder ingest for a region without a domainName', () => {
    const mediaRegions = [REGIONS[0]!, REGIONS_WITHOUT_DOMAINS[1]!];
    const { stack, template } = capturingReport(() => built({ mediaRegions })).result;
    expect(JSON.parse(variables(stack, template, fnOf(stack, name)).MEDIA_REGIONS as string)).toEqual({
      us002: {
        ingestUrl: 'wss://media-us.example.com',
        claimsTable: 'plivo-connector-us002-media',
        recordingsBucket: 'plivo-connector-recordings-us002',
        awsRegion: 'us-east-1',
      },
      in002: {
        ingestUrl: 'wss://ingest-in002.invalid',
        claimsTable: 'plivo-connector-in002-media',
        recordingsBucket: 'plivo-connector-recordings-in002',
        awsRegion: 'ap-south-1',
      },
    });
  });

  test('is accepted by loadControlPlaneConfig, as the handler reads it at start', () => {
    const { stack, template } = built();
    // Tokens resolve at deploy time; URLs (the API's, the queues') stand in as URLs.
    const env = Object.fromEntries(
      Object.entries(variables(stack, template, fnOf(stack, name))).map(([key, value]) => [
        key,
        typeof value === 'string'
          ? value
          : key.endsWith('_URL')
            ? `https://resolved.example.com/${key}`
            : `resolved-${key}`,
      ]),
    );
    const config = loadControlPlaneConfig(env);
    expect(config.mediaRegions.map((region) => region.id)).toEqual(['us002', 'in002']);
    expect(config.homeMediaRegion).toBe('us002');
    expect(config.countryRegions).toEqual({ IN: 'in002' });
    expect(config.webhooks.queueUrl).toBe('https://resolved.example.com/WEBHOOK_QUEUE_URL');
    expect(config.webhooks.deadLetterQueueUrl).toBe(
      name === 'delivery' ? 'https://resolved.example.com/WEBHOOK_DLQ_URL' : null,
    );
  });

  test('HOME_MEDIA_REGION follows homeMediaRegionId; no COUNTRY_REGIONS without countryRegions', () => {
    const { stack, template } = built({ homeMediaRegionId: 'in002', countryRegions: {} });
    const env = variables(stack, template, fnOf(stack, name));
    expect(env.HOME_MEDIA_REGION).toBe('in002');
    expect(env).not.toHaveProperty('COUNTRY_REGIONS');
  });

  test('PUBLIC_URL is the custom domain when set', () => {
    const { stack, template } = built(withDomain);
    expect(variables(stack, template, fnOf(stack, name)).PUBLIC_URL).toBe('https://api.example.com');
  });

});

describe('webhook signing', () => {
  test("only the delivery worker's role may sign with any key, anywhere in the template", () => {
    const { stack, template } = built();
    const policies = template.findResources('AWS::IAM::Policy') as Record<
      string,
      { Properties: { Roles: unknown[]; PolicyDocument: unknown } }
    >;
    const signing = Object.values(policies).filter((p) =>
      JSON.stringify(p.Properties.PolicyDocument).includes('kms:Sign'),
    );
    expect(signing.map((p) => p.Properties.Roles)).toEqual([
      [{ Ref: logicalId(stack, stack.webhookDelivery.worker.role) }],
    ]);
    // Nor does any key policy hand out kms:Sign.
    expect(JSON.stringify(template.findResources('AWS::KMS::Key'))).not.toContain('kms:Sign');
  });

  test('the delivery worker may sign with the webhook key and read its public half, and nothing more of it', () => {
    const { stack, template } = built();
    const signingKeyArn = { 'Fn::GetAtt': [logicalId(stack, stack.keys.webhookSigningKey), 'Arn'] };
    expect(onResource(statements(stack, template, stack.webhookDelivery.worker), signingKeyArn)).toEqual([
      { Effect: 'Allow', Action: ['kms:GetPublicKey', 'kms:Sign'], Resource: signingKeyArn },
    ]);
  });

  test('the sweeper may not use the webhook signing key', () => {
    const { stack, template } = built();
    const signingKeyArn = { 'Fn::GetAtt': [logicalId(stack, stack.keys.webhookSigningKey), 'Arn'] };
    expect(onResource(statements(stack, template, stack.sweeper.worker), signingKeyArn)).toEqual([]);
  });
});

describe('webhook queues access', () => {
  const SEND = ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'];
  const sqsStatements = (stack: ControlPlaneStack, template: Template, name: FunctionName) =>
    statements(stack, template, fnOf(stack, name)).filter((s) => JSON.stringify(s.Action).includes('sqs:'));

  test.each(['api', 'answer', 'sweeper'] as const)(
    'the %s function may send to the webhook queue, and nothing else of either queue',
    (name) => {
      const { stack, template } = built();
      const queueArn = { 'Fn::GetAtt': [logicalId(stack, stack.webhookQueue.queue), 'Arn'] };
      expect(sqsStatements(stack, template, name)).toEqual([{ Effect: 'Allow', Action: SEND, Resource: queueArn }]);
    },
  );

  test('the delivery worker consumes the webhook queue, changing visibility itself, but does not send to it', () => {
    const { stack, template } = built();
    const queueArn = { 'Fn::GetAtt': [logicalId(stack, stack.webhookQueue.queue), 'Arn'] };
    const onQueue = onResource(sqsStatements(stack, template, 'delivery'), queueArn);
    expect(onQueue).toHaveLength(1);
    expect(onQueue[0]!.Action).toEqual(
      expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']),
    );
    expect(onQueue[0]!.Action).not.toContain('sqs:SendMessage');
  });

  test('the delivery worker, alone, may send to the dead-letter queue', () => {
    const { stack, template } = built();
    const dlqArn = { 'Fn::GetAtt': [logicalId(stack, stack.webhookQueue.deadLetterQueue), 'Arn'] };
    expect(onResource(sqsStatements(stack, template, 'delivery'), dlqArn)).toEqual([
      { Effect: 'Allow', Action: SEND, Resource: dlqArn },
    ]);
    for (const name of ['api', 'answer', 'sweeper'] as const) {
      expect(onResource(sqsStatements(stack, template, name), dlqArn)).toEqual([]);
    }
  });

  test('the delivery worker takes batches of 10 from the webhook queue and reports failed items one by one', () => {
    const { stack, template } = built();
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(stack, stack.webhookQueue.queue), 'Arn'] },
      FunctionName: { Ref: logicalId(stack, stack.webhookDelivery.worker.function) },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
  });

  test('the delivery worker runs 30 s, the queue hides a received message for six times that', () => {
    const { stack, template } = built();
    const resources = template.findResources('AWS::Lambda::Function');
    expect(resources[logicalId(stack, stack.webhookDelivery.worker.function)]).toMatchObject({
      Properties: { Timeout: 30 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 180,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 10 }),
    });
  });
});

describe('delivery worker and sweeper access', () => {
  test.each(['delivery', 'sweeper'] as const)(
    'the %s function may read and write the table and query its indexes',
    (name) => {
      const { stack, template } = built();
      const tableArn = { 'Fn::GetAtt': [logicalId(stack, stack.dataTable.table), 'Arn'] };
      expect(statements(stack, template, fnOf(stack, name))).toContainEqual(
        expect.objectContaining({
          Action: expect.arrayContaining([
            'dynamodb:GetItem',
            'dynamodb:PutItem',
            'dynamodb:UpdateItem',
            'dynamodb:Query',
          ]),
          Resource: [tableArn, { 'Fn::Join': ['', [tableArn, '/index/*']] }],
        }),
      );
    },
  );

  test('the sweeper function is told the secrets key but may not use it', () => {
    const { stack, template } = built();
    const dataKeyArn = { 'Fn::GetAtt': [logicalId(stack, stack.keys.dataKey), 'Arn'] };
    expect(onResource(statements(stack, template, fnOf(stack, 'sweeper')), dataKeyArn)).toEqual([]);
  });

  test("the delivery function may only decrypt with the secrets key (webhooks' signing secrets), never encrypt", () => {
    const { stack, template } = built();
    const dataKeyArn = { 'Fn::GetAtt': [logicalId(stack, stack.keys.dataKey), 'Arn'] };
    expect(onResource(statements(stack, template, fnOf(stack, 'delivery')), dataKeyArn)).toEqual([
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: dataKeyArn },
    ]);
  });

  test("the delivery function does not touch any media region's table", () => {
    const { stack, template } = built();
    expect(JSON.stringify(statements(stack, template, fnOf(stack, 'delivery')))).not.toContain(':table/');
  });

  test("the sweeper may only query and delete items of each media region's table (media-server records)", () => {
    const { stack, template } = built();
    const onRegionTables = statements(stack, template, fnOf(stack, 'sweeper')).filter((s) => JSON.stringify(s.Resource).includes(':table/'));
    expect(onRegionTables).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:DeleteItem', 'dynamodb:Query'],
        Resource: expect.arrayContaining([regionTableArn('us-east-1', 'plivo-connector-us002-media'), regionTableArn('ap-south-1', 'plivo-connector-in002-media')]),
      },
    ]);
    expect(onRegionTables[0]!.Resource).toHaveLength(2);
  });
});

describe('sweeper schedule', () => {
  test('runs the sweeper every minute, for at most 60 s', () => {
    const { stack, template } = built();
    const sweeperArn = { 'Fn::GetAtt': [logicalId(stack, stack.sweeper.worker.function), 'Arn'] };
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: sweeperArn })],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: sweeperArn,
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [logicalId(stack, stack.sweeper.schedule), 'Arn'] },
    });
    const resources = template.findResources('AWS::Lambda::Function');
    expect(resources[logicalId(stack, stack.sweeper.worker.function)]).toMatchObject({ Properties: { Timeout: 60 } });
  });
});

describe('alarms', () => {
  type AlarmProperties = Record<string, unknown> & { Metrics?: { MetricStat?: { Metric: unknown } }[] };
  const alarms = (template: Template) =>
    Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (r) => (r as { Properties: AlarmProperties }).Properties,
    );

  test('on the depth of the dead-letter queue', () => {
    const { stack, template } = built();
    expect(alarms(template)).toContainEqual(
      expect.objectContaining({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [
          {
            Name: 'QueueName',
            Value: { 'Fn::GetAtt': [logicalId(stack, stack.webhookQueue.deadLetterQueue), 'QueueName'] },
          },
        ],
        Statistic: 'Maximum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      }),
    );
  });

  test("on the delivery failure rate, from the worker's attempt and failure counts", () => {
    const { template } = built();
    const rate = alarms(template).filter((a) => a.Metrics !== undefined);
    expect(rate).toHaveLength(1);
    expect(rate[0]).toMatchObject({ Threshold: 0.25, ComparisonOperator: 'GreaterThanThreshold' });
    expect(rate[0]!.Metrics!.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric] : []))).toEqual([
      { Namespace: 'PlivoConnector', MetricName: 'WebhookDeliveryAttempts' },
      { Namespace: 'PlivoConnector', MetricName: 'WebhookDeliveryFailures' },
    ]);
  });

  test.each(['delivery', 'sweeper'] as const)('on errors of the %s function', (name) => {
    const { stack, template } = built();
    expect(alarms(template)).toContainEqual(
      expect.objectContaining({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stack, fnOf(stack, name).function) } }],
        Threshold: 1,
      }),
    );
  });

  test('are named in the AlarmNames output', () => {
    const { stack, template } = built();
    expect(stack.alarms).toHaveLength(7);
    template.hasOutput('AlarmNames', {
      Value: {
        'Fn::Join': [',', stack.alarms.map((alarm) => ({ Ref: logicalId(stack, alarm) }))],
      },
    });
  });
});

describe('ingest URL warning', () => {
  const warning = (id: string) =>
    Match.stringLikeRegexp(`Media region ${id} has no domainName: calls .* cannot stream`);
  // Annotations.fromStack synthesizes again, printing the report again.
  const annotationsOf = (stack: ControlPlaneStack) => capturingReport(() => Annotations.fromStack(stack)).result;

  test('warns at synth for each media region without a domainName, and prints it', () => {
    const { stack, report } = buildQuietly({ mediaRegions: REGIONS_WITHOUT_DOMAINS });
    const annotations = annotationsOf(stack);
    annotations.hasWarning('/ControlPlane', warning('us002'));
    annotations.hasWarning('/ControlPlane', warning('in002'));
    expect(annotations.findWarning('*', Match.stringLikeRegexp('plivo-connector:ingest-url'))).toHaveLength(2);
    expect(report).toMatch(/WARNING Media region in002 has no domainName/);
  });

  test('names only the regions without a domainName', () => {
    const { stack } = buildQuietly({ mediaRegions: [REGIONS[0]!, REGIONS_WITHOUT_DOMAINS[1]!] });
    const annotations = annotationsOf(stack);
    annotations.hasNoWarning('*', warning('us002'));
    annotations.hasWarning('/ControlPlane', warning('in002'));
  });

  test('is absent when every region has a domainName', () => {
    Annotations.fromStack(build().stack).hasNoWarning('*', Match.anyValue());
  });
});

describe('API function access', () => {
  test('may use the secrets key for kms:Encrypt and kms:Decrypt only', () => {
    const { stack, template } = built();
    const dataKeyArn = { 'Fn::GetAtt': [logicalId(stack, stack.keys.dataKey), 'Arn'] };
    expect(onResource(statements(stack, template, stack.apiFunction), dataKeyArn)).toEqual([
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:Encrypt'], Resource: dataKeyArn },
    ]);
  });

  test('may read the webhook signing key\'s public half, never sign with it, and is told its ARN', () => {
    const { stack, template } = built();
    const signingKeyArn = { 'Fn::GetAtt': [logicalId(stack, stack.keys.webhookSigningKey), 'Arn'] };
    expect(onResource(statements(stack, template, stack.apiFunction), signingKeyArn)).toEqual([
      { Effect: 'Allow', Action: 'kms:GetPublicKey', Resource: signingKeyArn },
    ]);
    expect(onResource(statements(stack, template, stack.answerFunction), signingKeyArn)).toEqual([]);
    const fn = template.findResources('AWS::Lambda::Function')[logicalId(stack, stack.apiFunction.function)] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    expect(fn.Properties.Environment.Variables.WEBHOOK_SIGNING_KEY_ID).toEqual(signingKeyArn);
  });

  test('may read and write the table and query its index', () => {
    const { stack, template } = built();
    const tableArn = { 'Fn::GetAtt': [logicalId(stack, stack.dataTable.table), 'Arn'] };
    expect(statements(stack, template, stack.apiFunction)).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining([
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:Query',
        ]),
        Resource: [tableArn, { 'Fn::Join': ['', [tableArn, '/index/*']] }],
      }),
    );
  });

  test('is told the per-tenant rate limit: 50 by default, the prop when set, 0 to turn it off', () => {
    for (const [tenantRateLimit, expected] of [[undefined, '50'], [200, '200'], [0, '0']] as const) {
      const { stack, template } = built(tenantRateLimit === undefined ? {} : { tenantRateLimit });
      expect(variables(stack, template, stack.apiFunction).TENANT_RATE_LIMIT).toBe(expected);
      expect(variables(stack, template, stack.answerFunction)).not.toHaveProperty('TENANT_RATE_LIMIT');
    }
  });

  test('only the answer function is told PLIVO_SOURCE_RANGES, and only when the prop lists ranges', () => {
    const { stack, template } = build({ plivoSourceRanges: ['18.214.109.128/25', '2600:1f18::/32'] });
    expect(variables(stack, template, stack.answerFunction).PLIVO_SOURCE_RANGES).toBe('18.214.109.128/25,2600:1f18::/32');
    expect(variables(stack, template, stack.apiFunction)).not.toHaveProperty('PLIVO_SOURCE_RANGES');
    const none = built();
    expect(variables(none.stack, none.template, none.stack.answerFunction)).not.toHaveProperty('PLIVO_SOURCE_RANGES');
  });

  test("may only put commands into each media region's table, get placements and query the servers' records there: items whose partition key is a command's, a placement's or the servers'", () => {
    const { stack, template } = built();
    const regional = statements(stack, template, stack.apiFunction).filter((statement) => JSON.stringify(statement).includes('-media'));
    expect(regional).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:PutItem',
        Resource: expect.arrayContaining([regionTableArn('us-east-1', 'plivo-connector-us002-media'), regionTableArn('ap-south-1', 'plivo-connector-in002-media')]),
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${COMMAND_PARTITION_PREFIX}*`] } },
      },
      {
        Effect: 'Allow',
        Action: 'dynamodb:GetItem',
        Resource: expect.arrayContaining([regionTableArn('us-east-1', 'plivo-connector-us002-media'), regionTableArn('ap-south-1', 'plivo-connector-in002-media')]),
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${PLACEMENT_PARTITION_PREFIX}*`] } },
      },
      {
        Effect: 'Allow',
        Action: 'dynamodb:Query',
        Resource: expect.arrayContaining([regionTableArn('us-east-1', 'plivo-connector-us002-media'), regionTableArn('ap-south-1', 'plivo-connector-in002-media')]),
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${SERVERS_PK}*`] } },
      },
    ]);
    expect(regional[0]!.Resource).toHaveLength(2);
  });
});

describe('answer function access', () => {
  test('may only decrypt with the secrets key, never encrypt', () => {
    const { stack, template } = built();
    const dataKeyArn = { 'Fn::GetAtt': [logicalId(stack, stack.keys.dataKey), 'Arn'] };
    expect(onResource(statements(stack, template, stack.answerFunction), dataKeyArn)).toEqual([
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: dataKeyArn },
    ]);
  });

  test('may get, query, put and update items of the control table, and nothing else there', () => {
    const { stack, template } = built();
    const tableArn = { 'Fn::GetAtt': [logicalId(stack, stack.dataTable.table), 'Arn'] };
    const onTable = statements(stack, template, stack.answerFunction).filter((s) =>
      JSON.stringify(s.Resource).includes(logicalId(stack, stack.dataTable.table)),
    );
    expect(onTable).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
        Resource: tableArn,
      },
    ]);
  });

  test("may only put claims into each media region's table, by its deterministic ARN", () => {
    const { stack, template } = built();
    const onRegionTables = statements(stack, template, stack.answerFunction).filter((s) =>
      JSON.stringify(s.Resource).includes(':table/'),
    );
    expect(onRegionTables).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:PutItem',
        Resource: expect.arrayContaining([
          regionTableArn('us-east-1', 'plivo-connector-us002-media'),
          regionTableArn('ap-south-1', 'plivo-connector-in002-media'),
        ]),
        // Claims only: its grant lets it write no command, no room placement.
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${CLAIM_PARTITION_PREFIX}*`] } },
      },
    ]);
    expect(onRegionTables[0]!.Resource).toHaveLength(2);
  });

  test('has no wildcard resource', () => {
    const { stack, template } = built();
    const wildcard = statements(stack, template, stack.answerFunction).filter((s) =>
      JSON.stringify(s.Resource).includes('*'),
    );
    expect(wildcard).toEqual([]);
  });
});

describe('routes', () => {
  test('serves exactly the route keys of HTTP_FUNCTIONS', () => {
    const { template } = built();
    const keys = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
      (r) => (r as { Properties: { RouteKey: string } }).Properties.RouteKey,
    );
    expect(keys.sort()).toEqual(FUNCTION_NAMES.flatMap((name) => HTTP_FUNCTIONS[name].routes).sort());
    expect(keys).toContain('ANY /v2/hooks/plivo/{key}');
    expect(keys).toContain('ANY /v2/sip/{proxy+}');
    expect(keys).toContain('ANY /v2/sessions/{proxy+}');
    expect(keys).not.toContain('ANY /v2/calls/{proxy+}');
  });

  test.each(FUNCTION_NAMES)("routes the %s function's keys to it", (name) => {
    const { stack, template } = built();
    const fnArn = { 'Fn::GetAtt': [logicalId(stack, stack.functions[name].function), 'Arn'] };
    const [integrationId] = Object.keys(
      template.findResources('AWS::ApiGatewayV2::Integration', { Properties: { IntegrationUri: fnArn } }),
    );
    expect(integrationId).toBeDefined();
    for (const routeKey of HTTP_FUNCTIONS[name].routes) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: routeKey,
        Target: { 'Fn::Join': ['', ['integrations/', { Ref: integrationId }]] },
      });
    }
  });
});

describe('outputs', () => {
  test('ApiUrl, TableName and WebhookQueueUrl', () => {
    const { stack, template } = built();
    template.hasOutput('ApiUrl', { Value: { 'Fn::GetAtt': [logicalId(stack, stack.api.httpApi), 'ApiEndpoint'] } });
    template.hasOutput('TableName', { Value: { Ref: logicalId(stack, stack.dataTable.table) } });
    template.hasOutput('WebhookQueueUrl', { Value: { Ref: logicalId(stack, stack.webhookQueue.queue) } });
    expect(template.findOutputs('ApiDomainTarget')).toEqual({});
  });

  test('with a custom domain: ApiUrl on it, and the DNS target for it', () => {
    const { stack, template } = built(withDomain);
    template.hasOutput('ApiUrl', { Value: 'https://api.example.com' });
    template.hasOutput('ApiDomainTarget', {
      Value: { 'Fn::GetAtt': [logicalId(stack, stack.api.domainName!), 'RegionalDomainName'] },
    });
  });
});
