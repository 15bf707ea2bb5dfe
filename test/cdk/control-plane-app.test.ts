import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, CfnResource, Validations, type CfnElement, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { buildControlPlaneApp } from '../../lib/control-plane-app';
import { CONTROL_PLANE_STACK_NAME, type PlivoConnector } from '../../lib/plivo-connector';
import { CONTROL_PLANE_NAMES } from '../../lib/control-plane-names';
import { flattenReferences } from '../../lib/nag-findings';
import { LOCAL_KMS_KEY_ID, LOCAL_TABLE_NAME } from '../../local/aws';
import { startTestStack } from '../support/stack';
import { capturingReport, CDK_JSON_CONTEXT, validatedApp } from './helpers';

const CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
const certificateIn = (awsRegion: string) => CERTIFICATE_ARN.replace('us-east-1', awsRegion);

/** cdk.json's regions, each with its own ingest domain. */
const REGIONS_WITH_DOMAINS = {
  us002: { awsRegion: 'us-east-1', domainName: 'media-us.example.com', certificateArn: certificateIn('us-east-1') },
  in002: { awsRegion: 'ap-south-1', domainName: 'media-in.example.com', certificateArn: certificateIn('ap-south-1') },
};

type LambdaFunction = { Properties: { Environment: { Variables: Record<string, string> } } };
type TaskDefinition = {
  Properties: { ContainerDefinitions: { Environment: { Name: string; Value: unknown }[] }[] };
};

/**
 * Every finding of the AWS Solutions pack, errors and warnings alike, that no acknowledgement covers. Only cdk-nag's
 * own findings: synth-time annotations such as the ingest URL warning are not rule violations and do not count.
 */
function unacknowledgedFindings(app: App): { findings: string[]; report: string } {
  const { report } = capturingReport(() => app.synth()); // lets synth-time aspects add their resources first
  const findings = new AwsSolutionsChecks()
    .validateScope(app)
    .violations.flatMap((v) =>
      v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}: ${v.description}`),
    );
  return { findings, report };
}

const deployables = new Map<string, PlivoConnector>();
/**
 * The app `cdk synth` builds from this context, validated as it is there (CloudFormation's rules, cdk-nag), built once
 * per file: a build with its synth takes a second, and the tests that take it only read its stacks and templates.
 */
function deployable(context: Record<string, unknown> = {}): PlivoConnector {
  const key = JSON.stringify(context);
  const connector = deployables.get(key) ?? buildControlPlaneApp(validatedApp(context));
  deployables.set(key, connector);
  return connector;
}

/** The media stack's recordings bucket, found in its template by its lifecycle rule. */
function recordingsBucketOf(stack: Stack) {
  const buckets = Object.values(
    Template.fromStack(stack).findResources('AWS::S3::Bucket', { Properties: { LifecycleConfiguration: { Rules: [{ Id: 'recording-retention' }] } } }),
  ) as { Properties: { BucketName: unknown; LifecycleConfiguration: { Rules: { ExpirationInDays: number }[] } } }[];
  expect(buckets).toHaveLength(1);
  return buckets[0]!;
}

describe('stack placement', () => {
  test('puts the control plane in the home media region', () => {
    const { controlPlane } = deployable();
    expect(controlPlane.stackName).toBe(CONTROL_PLANE_STACK_NAME);
    expect(controlPlane.region).toBe('us-east-1');
  });

  test('follows homeMediaRegion to another AWS region', () => {
    const { controlPlane } = deployable({ homeMediaRegion: 'in002' });
    expect(controlPlane.region).toBe('ap-south-1');
  });

  test("adds one stack per media region, named after it, in that region's AWS region", () => {
    const { mediaRegions } = deployable();
    expect(mediaRegions.map((stack) => [stack.stackName, stack.region])).toEqual([
      ['PlivoConnector-Media-us002', 'us-east-1'],
      ['PlivoConnector-Media-in002', 'ap-south-1'],
    ]);
  });

  test('each media region stack holds its deterministically named table', () => {
    const { mediaRegions } = deployable({ mediaRegions: REGIONS_WITH_DOMAINS });
    for (const [stack, id] of [
      [mediaRegions[0]!, 'us002'],
      [mediaRegions[1]!, 'in002'],
    ] as const) {
      const template = Template.fromStack(stack);
      template.resourceCountIs('AWS::DynamoDB::Table', 1);
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        TableName: `plivo-connector-${id}-media`,
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      });
    }
  });

  test('follows the mediaRegions context, one stack for each region', () => {
    const { mediaRegions } = deployable({
      mediaRegions: { eu001: { awsRegion: 'eu-west-1' } },
      homeMediaRegion: 'eu001',
      countryRegions: {},
    });
    expect(mediaRegions.map((stack) => [stack.stackName, stack.region])).toEqual([
      ['PlivoConnector-Media-eu001', 'eu-west-1'],
    ]);
  });

  test('the media regions deploy after the control plane, without referring into it', () => {
    const { controlPlane, mediaRegions } = deployable();
    expect(controlPlane.dependencies).toEqual([]);
    for (const stack of mediaRegions) expect(stack.dependencies).toEqual([controlPlane]);
    // A reference across regions would fail at synth; none exists, so every media template stands alone.
    for (const stack of mediaRegions) {
      expect(JSON.stringify(Template.fromStack(stack).toJSON())).not.toMatch(/Fn::ImportValue|ExportsReader/);
    }
  });

  test('each media stack gets the same MEDIA_REGIONS, HOME_MEDIA_REGION and COUNTRY_REGIONS as the functions', () => {
    const { controlPlane, mediaRegions } = deployable({ mediaRegions: REGIONS_WITH_DOMAINS });
    const routing = ['MEDIA_REGIONS', 'HOME_MEDIA_REGION', 'COUNTRY_REGIONS'];
    const pick = (variables: Record<string, unknown>) =>
      Object.fromEntries(routing.map((name) => [name, variables[name]]));
    const functions = Object.values(Template.fromStack(controlPlane).findResources('AWS::Lambda::Function')).map(
      (r) => pick((r as LambdaFunction).Properties.Environment.Variables),
    );
    expect(functions).toHaveLength(controlPlane.allFunctions.length);
    const [expected] = functions;
    expect(functions).toEqual(functions.map(() => expected));
    // Synth without an account: the recordings buckets' names hold each stack's own AWS::AccountId.
    expect(JSON.parse(flattenReferences(expected!.MEDIA_REGIONS))).toMatchObject({
      in002: { ingestUrl: 'wss://media-in.example.com', recordingsBucket: 'plivo-connector-recordings-in002-<AWS::AccountId>' },
    });
    for (const stack of mediaRegions) {
      const [task] = Object.values(Template.fromStack(stack).findResources('AWS::ECS::TaskDefinition')) as TaskDefinition[];
      const variables = Object.fromEntries(
        task!.Properties.ContainerDefinitions[0]!.Environment.map(({ Name, Value }) => [Name, Value]),
      );
      expect(pick(variables)).toEqual(expected);
      expect(variables.MEDIA_REGION).toBe(stack.stackName.replace('PlivoConnector-Media-', ''));
      expect(variables.CONTROL_PLANE_AWS_REGION).toBe(controlPlane.region);
    }
  });

  test("the API allows the media regions' names cross-origin, where the console is served, and the console calls the API by its custom name", () => {
    const withDomains = deployable({ mediaRegions: REGIONS_WITH_DOMAINS, apiDomainName: 'api.example.com', apiCertificateArn: CERTIFICATE_ARN });
    Template.fromStack(withDomains.controlPlane).hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: Match.objectLike({ AllowOrigins: ['https://media-us.example.com', 'https://media-in.example.com'] }),
    });
    for (const stack of withDomains.mediaRegions) {
      Template.fromStack(stack).hasResourceProperties('AWS::ECS::TaskDefinition', {
        ContainerDefinitions: [Match.objectLike({ Environment: Match.arrayWith([{ Name: 'CONSOLE_API_URL', Value: 'https://api.example.com' }]) })],
      });
    }
    // No region with a name, no custom API name: no CORS, and the console asks for the API's URL.
    const bare = deployable();
    Template.fromStack(bare.controlPlane).hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.absent() });
    const [task] = Object.values(Template.fromStack(bare.mediaRegions[0]!).findResources('AWS::ECS::TaskDefinition')) as TaskDefinition[];
    expect(task!.Properties.ContainerDefinitions[0]!.Environment.map(({ Name }) => Name)).not.toContain('CONSOLE_API_URL');
  });

  test("the media stacks name the control plane's table, keys and queue by the names it gives them", () => {
    const { controlPlane, mediaRegions } = deployable();
    const home = Template.fromStack(controlPlane);
    home.hasResourceProperties('AWS::DynamoDB::Table', { TableName: CONTROL_PLANE_NAMES.dataTable });
    home.hasResourceProperties('AWS::SQS::Queue', { QueueName: CONTROL_PLANE_NAMES.webhookQueue });
    const keyOf = (construct: IConstruct) => ({
      'Fn::GetAtt': [controlPlane.getLogicalId(construct.node.defaultChild as CfnElement), 'Arn'],
    });
    home.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: CONTROL_PLANE_NAMES.dataKeyAlias,
      TargetKeyId: keyOf(controlPlane.keys.dataKey),
    });
    home.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: CONTROL_PLANE_NAMES.tableKeyAlias,
      TargetKeyId: keyOf(controlPlane.keys.tableKey),
    });
    // The table the data table's key encrypts is the one the media tasks reach through DynamoDB with that key's alias.
    home.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: CONTROL_PLANE_NAMES.dataTable,
      SSESpecification: Match.objectLike({ KMSMasterKeyId: keyOf(controlPlane.keys.tableKey) }),
    });
    for (const stack of mediaRegions) {
      const policy = JSON.stringify(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
      expect(policy).toContain(`:table/${CONTROL_PLANE_NAMES.dataTable}`);
      expect(policy).toContain(`"${CONTROL_PLANE_NAMES.dataKeyAlias}"`);
      expect(policy).toContain(`"${CONTROL_PLANE_NAMES.tableKeyAlias}"`);
      expect(policy).toContain(`:${CONTROL_PLANE_NAMES.webhookQueue}"`);
      expect(policy).toContain(`arn:aws:kms:${controlPlane.region}:`);
    }
  });

  test('media regions with a domain get a TLS listener with their own certificate', () => {
    const { mediaRegions } = deployable({ mediaRegions: REGIONS_WITH_DOMAINS });
    for (const [stack, awsRegion] of [
      [mediaRegions[0]!, 'us-east-1'],
      [mediaRegions[1]!, 'ap-south-1'],
    ] as const) {
      Template.fromStack(stack).hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
        Port: 443,
        Protocol: 'TLS',
        Certificates: [{ CertificateArn: certificateIn(awsRegion) }],
      });
    }
  });

  test('the mediaScaling context reaches every media service', () => {
    const { mediaRegions } = deployable({ mediaScaling: { maxTasks: 5, callsPerTask: 90 } });
    for (const stack of mediaRegions) {
      const template = Template.fromStack(stack);
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 5 });
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 90 }),
      });
    }
  });

  test('the limits context reaches the API function (tenantRateLimit) and every media service (rooms, seats)', () => {
    const { controlPlane, mediaRegions } = deployable({ limits: { tenantRateLimit: 20, maxRoomsPerTenant: 300, maxParticipantsPerRoom: 40 } });
    Template.fromStack(controlPlane).hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('REST API'),
      Environment: { Variables: Match.objectLike({ TENANT_RATE_LIMIT: '20' }) },
    });
    for (const stack of mediaRegions) {
      Template.fromStack(stack).hasResourceProperties('AWS::ECS::TaskDefinition', {
        ContainerDefinitions: [
          Match.objectLike({
            Environment: Match.arrayWith([
              { Name: 'MAX_ROOMS_PER_TENANT', Value: '300' },
              { Name: 'MAX_PARTICIPANTS_PER_ROOM', Value: '40' },
            ]),
          }),
        ],
      });
    }
  });

  test('the plivoSourceRanges context (a list, or a comma-separated -c string) reaches the answer function without the edge; a bad range fails synth', () => {
    for (const plivoSourceRanges of [['18.214.109.128/25', '2600:1f18::/32'], '18.214.109.128/25,2600:1f18::/32']) {
      const { controlPlane } = deployable({ plivoSourceRanges, apiEdge: false });
      Template.fromStack(controlPlane).hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('Answer URL'),
        Environment: { Variables: Match.objectLike({ PLIVO_SOURCE_RANGES: '18.214.109.128/25,2600:1f18::/32' }) },
      });
    }
    expect(() => deployable({ plivoSourceRanges: ['18.214.109.128'] })).toThrow(/Context "plivoSourceRanges": "18.214.109.128" is not a CIDR range/);
    expect(() => deployable({ plivoSourceRanges: 7 })).toThrow(/Context "plivoSourceRanges" must be a list of CIDR ranges/);
  });

  test('the plivoApiUrl context reaches every function and media service as PLIVO_API_URL (Plivo\'s own when unset); a non-https one fails synth', () => {
    const variablesOf = (apiUrl?: string) => {
      const { controlPlane, mediaRegions } = deployable(apiUrl === undefined ? {} : { plivoApiUrl: apiUrl });
      const functions = Object.values(Template.fromStack(controlPlane).findResources('AWS::Lambda::Function')).map((r) => (r as LambdaFunction).Properties.Environment.Variables);
      const tasks = mediaRegions.map((stack) => {
        const [task] = Object.values(Template.fromStack(stack).findResources('AWS::ECS::TaskDefinition')) as TaskDefinition[];
        return Object.fromEntries(task!.Properties.ContainerDefinitions[0]!.Environment.map(({ Name, Value }) => [Name, Value]));
      });
      return [...functions, ...tasks].map((variables) => variables.PLIVO_API_URL);
    };
    const pinned = variablesOf('https://plivo-proxy.example.com');
    expect(pinned.length).toBeGreaterThan(2);
    expect(new Set(pinned)).toEqual(new Set(['https://plivo-proxy.example.com']));
    expect(new Set(variablesOf())).toEqual(new Set([undefined]));
    expect(() => deployable({ plivoApiUrl: 'http://127.0.0.1:9000' })).toThrow(/Context "plivoApiUrl" must be an https URL without a path/);
    expect(() => deployable({ plivoApiUrl: 'https://api.plivo.com/v1' })).toThrow(/Context "plivoApiUrl" must be an https URL without a path/);
  });

  test('without the limits context, the defaults: 50 requests/s, 1000 rooms per tenant per task, 100 seats per room', () => {
    const { controlPlane, mediaRegions } = deployable();
    Template.fromStack(controlPlane).hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('REST API'),
      Environment: { Variables: Match.objectLike({ TENANT_RATE_LIMIT: '50' }) },
    });
    Template.fromStack(mediaRegions[0]!).hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.arrayWith([
            { Name: 'MAX_ROOMS_PER_TENANT', Value: '1000' },
            { Name: 'MAX_PARTICIPANTS_PER_ROOM', Value: '100' },
          ]),
        }),
      ],
    });
  });

  test("the functions' recordings buckets are the media region stacks' buckets, named with the account when it is known", () => {
    const names = (built: ReturnType<typeof buildControlPlaneApp>) => {
      const [answer] = Object.values(
        Template.fromStack(built.controlPlane).findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('Answer URL') } }),
      ) as LambdaFunction[];
      const regions = JSON.parse(flattenReferences(answer!.Properties.Environment.Variables.MEDIA_REGIONS)) as Record<string, { recordingsBucket: string }>;
      const buckets = built.mediaRegions.map((stack) => flattenReferences(recordingsBucketOf(stack).Properties.BucketName));
      return { functions: Object.values(regions).map((r) => r.recordingsBucket), buckets };
    };
    const offline = names(deployable());
    expect(offline.functions).toEqual(['plivo-connector-recordings-us002-<AWS::AccountId>', 'plivo-connector-recordings-in002-<AWS::AccountId>']);
    expect(offline.buckets).toEqual(offline.functions);

    const previous = process.env.CDK_DEFAULT_ACCOUNT;
    process.env.CDK_DEFAULT_ACCOUNT = '123456789012';
    try {
      const known = names(buildControlPlaneApp(validatedApp()));
      expect(known.functions).toEqual(['plivo-connector-recordings-us002-123456789012', 'plivo-connector-recordings-in002-123456789012']);
      expect(known.buckets).toEqual(known.functions);
    } finally {
      if (previous === undefined) delete process.env.CDK_DEFAULT_ACCOUNT;
      else process.env.CDK_DEFAULT_ACCOUNT = previous;
    }
  });

  test('recordingRetentionDays sets every region\'s recordings lifecycle (90 days without it)', () => {
    const expiry = (context: Record<string, unknown>) =>
      deployable(context).mediaRegions.map((stack) => recordingsBucketOf(stack).Properties.LifecycleConfiguration.Rules[0]!.ExpirationInDays);
    expect(expiry({})).toEqual([90, 90]);
    expect(expiry({ recordingRetentionDays: '30' })).toEqual([30, 30]);
  });

  test("recordingSegmentSeconds reaches every region's media tasks (20 without it)", () => {
    const segmentSeconds = (context: Record<string, unknown>) =>
      deployable(context).mediaRegions.map((stack) => {
        const [task] = Object.values(Template.fromStack(stack).findResources('AWS::ECS::TaskDefinition')) as { Properties: { ContainerDefinitions: { Environment: { Name: string; Value: string }[] }[] } }[];
        return task?.Properties.ContainerDefinitions[0]?.Environment.find((variable) => variable.Name === 'RECORDING_SEGMENT_SECONDS')?.Value;
      });
    expect(segmentSeconds({})).toEqual(['20', '20']);
    expect(segmentSeconds({ recordingSegmentSeconds: '8' })).toEqual(['8', '8']);
  });

  test('the API may read and delete recordings, the sweeper also write them; the answer function not at all', () => {
    const { controlPlane } = deployable();
    const template = Template.fromStack(controlPlane);
    const s3Actions = (fn: { role: IConstruct }) => {
      const roleId = controlPlane.getLogicalId(fn.role.node.defaultChild as CfnElement);
      const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } })) as {
        Properties: { PolicyDocument: { Statement: { Action: string | string[] }[] } };
      }[];
      const actions = policies.flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((s) => s.Action));
      return [...new Set(actions.filter((action) => action.startsWith('s3:')))].sort();
    };
    expect(s3Actions(controlPlane.apiFunction)).toEqual(['s3:DeleteObject', 's3:GetObject']);
    expect(s3Actions(controlPlane.sweeper.worker)).toEqual(['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:ListMultipartUploadParts', 's3:PutObject']);
    expect(s3Actions(controlPlane.answerFunction)).toEqual([]);
  });

  test("the answer function's claims tables are the media region stacks' tables", () => {
    const { controlPlane, mediaRegions } = deployable({ mediaRegions: REGIONS_WITH_DOMAINS });
    const answerFunctions = Template.fromStack(controlPlane).findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('Answer URL') },
    });
    const [answer] = Object.values(answerFunctions) as LambdaFunction[];
    const regions = JSON.parse(flattenReferences(answer!.Properties.Environment.Variables.MEDIA_REGIONS)) as Record<
      string,
      { claimsTable: string }
    >;
    expect(Object.values(regions).map((r) => r.claimsTable)).toEqual(
      mediaRegions.map((stack) => stack.regionTable.tableName),
    );
  });

  test('fails on invalid context before building anything', () => {
    const app = validatedApp({ homeMediaRegion: 'xx999' });
    expect(() => buildControlPlaneApp(app)).toThrow(/"homeMediaRegion" must name one of the mediaRegions/);
    expect(app.node.children).toHaveLength(0);
  });

  test('fails on invalid countryRegions before building anything', () => {
    const app = validatedApp({ countryRegions: { IN: 'in001' } });
    expect(() => buildControlPlaneApp(app)).toThrow(/"countryRegions.IN" must name one of the mediaRegions/);
    expect(app.node.children).toHaveLength(0);
  });
});

describe('cdk-nag AwsSolutions', () => {
  test('no unacknowledged error or warning, with the ingest URL warnings of cdk.json (no domains)', () => {
    const app = validatedApp();
    buildControlPlaneApp(app);
    const { findings, report } = unacknowledgedFindings(app);
    expect(findings).toEqual([]);
    expect(report).toMatch(/plivo-connector:ingest-url/);
    expect(report).toMatch(/plivo-connector:media-tls/);
  });

  test('no unacknowledged error or warning with media region domains and a custom API domain', () => {
    const app = validatedApp({
      mediaRegions: REGIONS_WITH_DOMAINS,
      apiDomainName: 'api.example.com',
      apiCertificateArn: CERTIFICATE_ARN,
    });
    buildControlPlaneApp(app);
    const { findings, report } = unacknowledgedFindings(app);
    expect(findings).toEqual([]);
    expect(report).toBe('');
  });

  test('runs at synth and fails it on an error', () => {
    const app = validatedApp({ mediaRegions: REGIONS_WITH_DOMAINS });
    new Queue(buildControlPlaneApp(app).controlPlane, 'QueueWithoutTls', { enforceSSL: false });
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS4/);
  });

  test('acknowledges only these findings, each on the construct it concerns and with its reason', () => {
    const app = validatedApp();
    buildControlPlaneApp(app);
    const acknowledged = app.node.findAll().flatMap((construct) =>
      construct.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
        .map(([id, reason]) => ({ at: construct.node.path, id: id.replace(/^annotation::/i, ''), reason }))
        // aws-cdk-lib acknowledges some CloudFormation-Validate findings of its own constructs itself.
        .filter(({ id }) => id.startsWith('AwsSolutions-')),
    );
    const stack = CONTROL_PLANE_STACK_NAME;
    const media = (id: string, awsRegion: string) => {
      const at = `PlivoConnector-Media-${id}`;
      return [
        `${at}/LoadBalancer/AccessLogs AwsSolutions-S1`,
        `${at}/LoadBalancer/SecurityGroup AwsSolutions-EC23`,
        `${at}/Media/Task AwsSolutions-ECS2`,
        `${at}/Media/Task/ExecutionRole AwsSolutions-IAM5[Resource::*]`,
        `${at}/Media/Task/TaskRole AwsSolutions-IAM5[Action::kms:GenerateDataKey*]`,
        `${at}/Media/Task/TaskRole AwsSolutions-IAM5[Action::kms:ReEncrypt*]`,
        `${at}/Media/Task/TaskRole AwsSolutions-IAM5[Resource::arn:aws:dynamodb:us-east-1:<AWS::AccountId>:table/plivo-connector-data/index/*]`,
        `${at}/Media/Task/TaskRole AwsSolutions-IAM5[Resource::arn:aws:ecs:${awsRegion}:<AWS::AccountId>:task/<MediaClusterC38A5FBC>/*]`,
        `${at}/Media/Task/TaskRole AwsSolutions-IAM5[Resource::arn:aws:kms:us-east-1:<AWS::AccountId>:key/*]`,
        `${at}/Media/Task/TaskRole AwsSolutions-IAM5[Resource::<RecordingsBucketB0C8199F.Arn>/*]`,
      ];
    };
    const recordings = (fn: string) => {
      const buckets = ['us002', 'in002'].map(
        (id) => `${stack}/${fn} AwsSolutions-IAM5[Resource::arn:aws:s3:::plivo-connector-recordings-${id}-<AWS::AccountId>/*]`,
      );
      const keys = ['us-east-1', 'ap-south-1'].map((awsRegion) => `${stack}/${fn} AwsSolutions-IAM5[Resource::arn:aws:kms:${awsRegion}:<AWS::AccountId>:key/*]`);
      return [...buckets, ...keys];
    };
    expect(acknowledged.map(({ at, id }) => `${at} ${id}`).sort()).toEqual([
      `${stack}/AnswerFunction/Function AwsSolutions-L1`,
      `${stack}/AnswerFunction/Role AwsSolutions-IAM5[Action::kms:GenerateDataKey*]`,
      `${stack}/AnswerFunction/Role AwsSolutions-IAM5[Action::kms:ReEncrypt*]`,
      `${stack}/Api/HttpApi AwsSolutions-APIG4`,
      `${stack}/ApiFunction/Function AwsSolutions-L1`,
      `${stack}/ApiFunction/Role AwsSolutions-IAM5[Action::kms:GenerateDataKey*]`,
      `${stack}/ApiFunction/Role AwsSolutions-IAM5[Action::kms:ReEncrypt*]`,
      `${stack}/ApiFunction/Role AwsSolutions-IAM5[Resource::<DataTableFDBAD0F2.Arn>/index/*]`,
      ...recordings('ApiFunction/Role'),
      `${stack}/Edge/Distribution AwsSolutions-CFR1`,
      `${stack}/Edge/Distribution AwsSolutions-CFR3`,
      `${stack}/Edge/Distribution AwsSolutions-CFR4`,
      `${stack}/Edge/OriginSecret AwsSolutions-SMG4`,
      `${stack}/Sweeper/Worker/Function AwsSolutions-L1`,
      `${stack}/Sweeper/Worker/Role AwsSolutions-IAM5[Action::kms:GenerateDataKey*]`,
      `${stack}/Sweeper/Worker/Role AwsSolutions-IAM5[Action::kms:ReEncrypt*]`,
      `${stack}/Sweeper/Worker/Role AwsSolutions-IAM5[Resource::<DataTableFDBAD0F2.Arn>/index/*]`,
      ...recordings('Sweeper/Worker/Role'),
      `${stack}/WebhookDelivery/Worker/Function AwsSolutions-L1`,
      `${stack}/WebhookDelivery/Worker/Role AwsSolutions-IAM5[Action::kms:GenerateDataKey*]`,
      `${stack}/WebhookDelivery/Worker/Role AwsSolutions-IAM5[Action::kms:ReEncrypt*]`,
      `${stack}/WebhookDelivery/Worker/Role AwsSolutions-IAM5[Resource::<DataTableFDBAD0F2.Arn>/index/*]`,
      ...media('in002', 'ap-south-1'),
      ...media('us002', 'us-east-1'),
    ].sort());
    for (const { reason } of acknowledged) expect(reason.length).toBeGreaterThan(80);
  });
});

test("CloudFormation's rules run at synth too (the tests' deployable apps are validated as `cdk synth` validates), and fail it on an error", () => {
  const { controlPlane } = buildControlPlaneApp(validatedApp());
  new CfnResource(controlPlane, 'NotAQueue', { type: 'AWS::SQS::Queue', properties: { Nonsense: 1 } });
  expect(() => capturingReport(() => Template.fromStack(controlPlane))).toThrow(/Nonsense.*\(CloudFormation Validate\)/);
});

test('synth bundles the API handler with the local esbuild, and the bundle serves requests', async () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'control-plane-'));
  const local = await startTestStack();
  try {
    const app = new App({ outdir, context: CDK_JSON_CONTEXT });
    const { controlPlane, mediaRegions } = buildControlPlaneApp(app);
    capturingReport(() => app.synth()); // cdk.json has no ingest domains: a warning report we need not see
    // One bundle per function (HTTP ones, delivery worker, sweeper); the API's is the one its Lambda's code points at.
    const template = JSON.parse(fs.readFileSync(path.join(outdir, controlPlane.templateFile), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: { Code: { S3Key: string } } }>;
    };
    const bundles = Object.values(template.Resources)
      .filter((resource) => resource.Type === 'AWS::Lambda::Function')
      .map((resource) => `asset.${resource.Properties.Code.S3Key.replace(/\.zip$/, '')}`);
    expect(new Set(bundles).size).toBe(controlPlane.allFunctions.length);
    for (const bundle of bundles) expect(fs.existsSync(path.join(outdir, bundle))).toBe(true);

    // Both media regions build the same image, from one context staged without node_modules.
    const images = mediaRegions.flatMap((stack) =>
      Object.values(
        (
          JSON.parse(fs.readFileSync(path.join(outdir, `${stack.artifactId}.assets.json`), 'utf8')) as {
            dockerImages: Record<string, { source: { directory: string; dockerFile: string } }>;
          }
        ).dockerImages,
      ).map((image) => image.source),
    );
    expect(images).toHaveLength(2);
    expect(images[1]).toEqual(images[0]);
    expect(images[0]!.dockerFile).toBe('ingest-container/Dockerfile');
    expect(fs.readdirSync(path.join(outdir, images[0]!.directory))).not.toContain('node_modules');

    const apiFunctionId = controlPlane.getLogicalId(controlPlane.apiFunction.function.node.defaultChild as CfnElement);
    const assetHash = template.Resources[apiFunctionId]!.Properties.Code.S3Key.replace(/\.zip$/, '');
    const bundle = path.join(outdir, `asset.${assetHash}`);
    expect(fs.readdirSync(bundle).sort()).toEqual(['index.js', 'index.js.map']);

    // Run the deployable artifact as Lambda would (module scope reads env, then handler(event)),
    // against the local stand-ins, outside this repo's node_modules.
    const token = await local.token('bundle-tenant');
    const event = {
      version: '2.0',
      rawPath: '/v2/connectors',
      rawQueryString: '',
      headers: { authorization: `Bearer ${token}` },
      requestContext: { http: { method: 'GET', path: '/v2/connectors' }, requestId: 'r1' },
      isBase64Encoded: false,
    };
    // Exit explicitly: the SDK's keep-alive sockets would hold the process open, as they do in Lambda.
    const script = `require('./index.js').handler(${JSON.stringify(event)}).then((r) => { process.stdout.write('RESULT ' + JSON.stringify(r)); process.exit(0); })`;
    // Asynchronously: the stand-ins run in this process and must keep answering meanwhile.
    const out = await promisify(execFile)(process.execPath, ['-e', script], {
      cwd: bundle,
      encoding: 'utf8',
      timeout: 20_000,
      env: {
        PATH: process.env.PATH,
        TABLE_NAME: LOCAL_TABLE_NAME,
        KMS_KEY_ID: LOCAL_KMS_KEY_ID,
        PUBLIC_URL: 'https://api.example.com',
        MEDIA_REGIONS: JSON.stringify({
          us002: { ingestUrl: 'wss://media.example.com', claimsTable: 'plivo-connector', recordingsBucket: 'recordings' },
        }),
        DYNAMODB_ENDPOINT: local.stack.aws.dynamodbEndpoint,
        KMS_ENDPOINT: local.stack.aws.kmsEndpoint,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    });
    expect(out.stderr).not.toMatch(/Error/);
    const [logs = '', resultJson = ''] = out.stdout.split('RESULT ');
    // The handler's structured request log, as CloudWatch would receive it.
    expect(JSON.parse(logs.trim().split('\n').pop()!)).toMatchObject({ level: 'info', msg: 'request', status: 200, tenant: 'bundle-tenant' });
    const result = JSON.parse(resultJson) as { statusCode: number; body: string };
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ data: [], pageInfo: { limit: 20, nextCursor: null } });
  } finally {
    await local.close();
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});
