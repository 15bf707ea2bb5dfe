import { Token, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { loadControlPlaneConfig } from '../../core/config';
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
  { id: 'us002', awsRegion: 'us-east-1', claimsTableName: 'plivo-connector-us002-media' },
  { id: 'in002', awsRegion: 'ap-south-1', claimsTableName: 'plivo-connector-in002-media' },
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

/** Builds with a media region lacking a domainName: synth prints a warning report, returned here. */
function buildQuietly(props: Partial<ControlPlaneStackProps>): ReturnType<typeof build> & { report: string } {
  const { result, report } = capturingReport(() => build(props));
  return { ...result, report };
}

const withDomain = { apiDomainName: 'api.example.com', apiCertificateArn: CERTIFICATE_ARN };
const FUNCTION_NAMES = Object.keys(HTTP_FUNCTIONS) as HttpFunctionName[];

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
  test('creates three keys, one table, two queues, two functions and one HTTP API', () => {
    const { template } = build();
    template.resourceCountIs('AWS::KMS::Key', 3);
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
  });

  test('has one function per HTTP_FUNCTIONS entry, each with its own role', () => {
    const { stack } = build();
    expect(Object.keys(stack.functions).sort()).toEqual([...FUNCTION_NAMES].sort());
    expect(stack.apiFunction).toBe(stack.functions.api);
    expect(stack.answerFunction).toBe(stack.functions.answer);
    expect(stack.apiFunction.role).not.toBe(stack.answerFunction.role);
  });

  test('encrypts the table with the table key, not the secrets key', () => {
    const { stack, template } = build();
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: Match.objectLike({
        KMSMasterKeyId: { 'Fn::GetAtt': [logicalId(stack, stack.keys.tableKey), 'Arn'] },
      }),
    });
  });

  test('holds no secret: no Secrets Manager secret or SSM parameter', () => {
    const { template } = build();
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.resourceCountIs('AWS::SSM::Parameter', 0);
  });

  test('has no circular references (PUBLIC_URL reads the API id), with or without a custom domain', () => {
    // Template.fromStack refuses a template whose resources depend on each other in a loop.
    expect(() => build()).not.toThrow();
    expect(() => build(withDomain)).not.toThrow();
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

  test("rejects a claims table name that is a token, such as another region's table.tableName", () => {
    const mediaRegions = [{ ...REGIONS[0]!, claimsTableName: Token.asString({ Ref: 'Elsewhere' }) }];
    expect(() => build({ mediaRegions })).toThrow(/claimsTableName of us002 must be a plain name/);
  });
});

describe.each(FUNCTION_NAMES)('%s function environment', (name) => {
  test('is exactly the control-plane configuration, with no secret', () => {
    const { stack, template } = build();
    expect(variables(stack, template, stack.functions[name])).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      TABLE_NAME: { Ref: logicalId(stack, stack.dataTable.table) },
      KMS_KEY_ID: { 'Fn::GetAtt': [logicalId(stack, stack.keys.dataKey), 'Arn'] },
      PUBLIC_URL: { 'Fn::GetAtt': [logicalId(stack, stack.api.httpApi), 'ApiEndpoint'] },
      MEDIA_REGIONS: expect.any(String),
      HOME_MEDIA_REGION: 'us002',
      COUNTRY_REGIONS: 'IN=in002',
      LOG_LEVEL: 'info',
      // Only the API publishes the webhook key's public half.
      ...(name === 'api' && { WEBHOOK_SIGNING_KEY_ID: { 'Fn::GetAtt': [logicalId(stack, stack.keys.webhookSigningKey), 'Arn'] } }),
    });
  });

  test("MEDIA_REGIONS names each region's table, AWS region and wss:// ingest on its domainName", () => {
    const { stack, template } = build();
    expect(JSON.parse(variables(stack, template, stack.functions[name]).MEDIA_REGIONS as string)).toEqual({
      us002: {
        ingestUrl: 'wss://media-us.example.com',
        claimsTable: 'plivo-connector-us002-media',
        awsRegion: 'us-east-1',
      },
      in002: {
        ingestUrl: 'wss://media-in.example.com',
        claimsTable: 'plivo-connector-in002-media',
        awsRegion: 'ap-south-1',
      },
    });
  });

  test('MEDIA_REGIONS has a never-resolving placeholder ingest for a region without a domainName', () => {
    const mediaRegions = [REGIONS[0]!, REGIONS_WITHOUT_DOMAINS[1]!];
    const { stack, template } = buildQuietly({ mediaRegions });
    expect(JSON.parse(variables(stack, template, stack.functions[name]).MEDIA_REGIONS as string)).toEqual({
      us002: {
        ingestUrl: 'wss://media-us.example.com',
        claimsTable: 'plivo-connector-us002-media',
        awsRegion: 'us-east-1',
      },
      in002: {
        ingestUrl: 'wss://ingest-in002.invalid',
        claimsTable: 'plivo-connector-in002-media',
        awsRegion: 'ap-south-1',
      },
    });
  });

  test('is accepted by loadControlPlaneConfig, as the handler reads it at start', () => {
    const { stack, template } = build();
    const env = Object.fromEntries(
      Object.entries(variables(stack, template, stack.functions[name])).map(([key, value]) => [
        key,
        typeof value === 'string' ? value : `resolved-${key}`,
      ]),
    );
    const config = loadControlPlaneConfig({ ...env, PUBLIC_URL: 'https://abc.execute-api.us-east-1.amazonaws.com' });
    expect(config.mediaRegions.map((region) => region.id)).toEqual(['us002', 'in002']);
    expect(config.homeMediaRegion).toBe('us002');
    expect(config.countryRegions).toEqual({ IN: 'in002' });
  });

  test('HOME_MEDIA_REGION follows homeMediaRegionId; no COUNTRY_REGIONS without countryRegions', () => {
    const { stack, template } = build({ homeMediaRegionId: 'in002', countryRegions: {} });
    const env = variables(stack, template, stack.functions[name]);
    expect(env.HOME_MEDIA_REGION).toBe('in002');
    expect(env).not.toHaveProperty('COUNTRY_REGIONS');
  });

  test('PUBLIC_URL is the custom domain when set', () => {
    const { stack, template } = build(withDomain);
    expect(variables(stack, template, stack.functions[name]).PUBLIC_URL).toBe('https://api.example.com');
  });

  test('may not sign with the webhook key or touch the webhook queues', () => {
    const { stack, template } = build();
    const policy = JSON.stringify(statements(stack, template, stack.functions[name]));
    expect(policy).not.toContain('kms:Sign');
    expect(policy).not.toContain('sqs:');
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
    const { stack, template } = build();
    const dataKeyArn = { 'Fn::GetAtt': [logicalId(stack, stack.keys.dataKey), 'Arn'] };
    expect(onResource(statements(stack, template, stack.apiFunction), dataKeyArn)).toEqual([
      { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:Encrypt'], Resource: dataKeyArn },
    ]);
  });

  test('may read the webhook signing key\'s public half, never sign with it, and is told its ARN', () => {
    const { stack, template } = build();
    const signingKeyArn = { 'Fn::GetAtt': [logicalId(stack, stack.keys.webhookSigningKey), 'Arn'] };
    expect(onResource(statements(stack, template, stack.apiFunction), signingKeyArn)).toEqual([
      { Effect: 'Allow', Action: 'kms:GetPublicKey', Resource: signingKeyArn },
    ]);
    expect(onResource(statements(stack, template, stack.answerFunction), signingKeyArn)).toEqual([]);
    const fn = template.findResources('AWS::Lambda::Function')[logicalId(stack, stack.apiFunction.function)] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    expect(fn.Properties.Environment.Variables.WEBHOOK_SIGNING_KEY_ID).toEqual(signingKeyArn);
  });

  test('may read and write the table and query its index', () => {
    const { stack, template } = build();
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

  test("has no access to any media region's table", () => {
    const { stack, template } = build();
    const policy = JSON.stringify(statements(stack, template, stack.apiFunction));
    expect(policy).not.toContain(':table/');
    expect(policy).not.toContain('-media');
  });
});

describe('answer function access', () => {
  test('may only decrypt with the secrets key, never encrypt', () => {
    const { stack, template } = build();
    const dataKeyArn = { 'Fn::GetAtt': [logicalId(stack, stack.keys.dataKey), 'Arn'] };
    expect(onResource(statements(stack, template, stack.answerFunction), dataKeyArn)).toEqual([
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: dataKeyArn },
    ]);
  });

  test('may get, query, put and update items of the control table, and nothing else there', () => {
    const { stack, template } = build();
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

  test("may only put items into each media region's table, by its deterministic ARN", () => {
    const { stack, template } = build();
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
      },
    ]);
    expect(onRegionTables[0]!.Resource).toHaveLength(2);
  });

  test('has no wildcard resource but X-Ray', () => {
    const { stack, template } = build();
    const wildcard = statements(stack, template, stack.answerFunction).filter((s) =>
      JSON.stringify(s.Resource).includes('*'),
    );
    expect(wildcard).toEqual([
      { Effect: 'Allow', Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], Resource: '*' },
    ]);
  });
});

describe('routes', () => {
  test('serves exactly the route keys of HTTP_FUNCTIONS', () => {
    const { template } = build();
    const keys = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
      (r) => (r as { Properties: { RouteKey: string } }).Properties.RouteKey,
    );
    expect(keys.sort()).toEqual(FUNCTION_NAMES.flatMap((name) => HTTP_FUNCTIONS[name].routes).sort());
    expect(keys).toContain('ANY /v2/hooks/plivo/{key}');
    expect(keys).toContain('ANY /v2/calls/{proxy+}');
  });

  test.each(FUNCTION_NAMES)("routes the %s function's keys to it", (name) => {
    const { stack, template } = build();
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
    const { stack, template } = build();
    template.hasOutput('ApiUrl', { Value: { 'Fn::GetAtt': [logicalId(stack, stack.api.httpApi), 'ApiEndpoint'] } });
    template.hasOutput('TableName', { Value: { Ref: logicalId(stack, stack.dataTable.table) } });
    template.hasOutput('WebhookQueueUrl', { Value: { Ref: logicalId(stack, stack.webhookQueue.queue) } });
    expect(template.findOutputs('ApiDomainTarget')).toEqual({});
  });

  test('with a custom domain: ApiUrl on it, and the DNS target for it', () => {
    const { stack, template } = build(withDomain);
    template.hasOutput('ApiUrl', { Value: 'https://api.example.com' });
    template.hasOutput('ApiDomainTarget', {
      Value: { 'Fn::GetAtt': [logicalId(stack, stack.api.domainName!), 'RegionalDomainName'] },
    });
  });
});
