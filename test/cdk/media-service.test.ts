import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Stack, type App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ContainerImage } from 'aws-cdk-lib/aws-ecs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { MediaLoadBalancer } from '../../lib/constructs/media-load-balancer';
import { MediaNetwork } from '../../lib/constructs/media-network';
import { MediaService, type MediaServiceProps } from '../../lib/constructs/media-service';
import { RegionTable } from '../../lib/constructs/region-table';
import { controlPlaneReferences } from '../../lib/control-plane-names';
import { mediaRoutingEnvironment, type MediaRouting } from '../../lib/media-routing';
import { loadMediaConfig } from '../../ingest-container/src/config';
import { bundlingApp, testApp } from './helpers';

const ROUTING: MediaRouting = {
  mediaRegions: [
    { id: 'us002', awsRegion: 'us-east-1', claimsTableName: 'plivo-connector-us002-media', recordingsBucketName: 'plivo-connector-recordings-us002', domainName: 'media-us.example.com' },
    { id: 'in002', awsRegion: 'ap-south-1', claimsTableName: 'plivo-connector-in002-media', recordingsBucketName: 'plivo-connector-recordings-in002' },
  ],
  homeMediaRegionId: 'us002',
  countryRegions: { IN: 'in002' },
};
const TEST_IMAGE = 'public.ecr.aws/example/plivo-connector-media:test';

interface Built {
  stack: Stack;
  service: MediaService;
  lb: MediaLoadBalancer;
  table: RegionTable;
  template: Template;
}

/** The service of in002 (ap-south-1) with a control plane in us-east-1; a registry image unless `image` is null. */
function build(
  props: Partial<MediaServiceProps> = {},
  app: App = testApp(),
  image: ContainerImage | null = ContainerImage.fromRegistry(TEST_IMAGE),
): Built {
  const stack = new Stack(app, 'Media', { env: { region: 'ap-south-1' } });
  const vpc = new MediaNetwork(stack, 'Network').vpc;
  const lb = new MediaLoadBalancer(stack, 'LoadBalancer', { vpc });
  const table = new RegionTable(stack, 'RegionTable', { regionId: 'in002' });
  const service = new MediaService(stack, 'Media', {
    vpc,
    loadBalancer: lb,
    regionId: 'in002',
    routing: ROUTING,
    regionTable: table.table,
    controlPlane: controlPlaneReferences(stack, 'us-east-1'),
    ...(image !== null && { image }),
    ...props,
  });
  return { stack, service, lb, table, template: Template.fromStack(stack) };
}

let defaultBuild: Built | undefined;
/** `build()` with its defaults, once per file: the tests that take it only read its constructs and template. */
const shared = (): Built => (defaultBuild ??= build());

const idOf = (stack: Stack, construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const accountJoin = (before: string, after: string) => ({
  'Fn::Join': ['', [before, { Ref: 'AWS::AccountId' }, after]],
});

interface ContainerDefinition {
  Environment: { Name: string; Value: unknown }[];
  [key: string]: unknown;
}
function containerOf(template: Template): ContainerDefinition {
  const [definition] = Object.values(template.findResources('AWS::ECS::TaskDefinition')) as {
    Properties: { ContainerDefinitions: ContainerDefinition[] };
  }[];
  expect(definition!.Properties.ContainerDefinitions).toHaveLength(1);
  return definition!.Properties.ContainerDefinitions[0]!;
}
const environmentOf = (template: Template) =>
  Object.fromEntries(containerOf(template).Environment.map(({ Name, Value }) => [Name, Value]));

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}
function taskRoleStatements({ stack, service, template }: Built): Statement[] {
  const policies = Object.values(
    template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: idOf(stack, service.taskDefinition.taskRole) }] },
    }),
  ) as { Properties: { PolicyDocument: { Statement: Statement[] } } }[];
  expect(policies).toHaveLength(1);
  return policies[0]!.Properties.PolicyDocument.Statement;
}
const withAction = (statements: Statement[], action: string) =>
  statements.filter((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]).includes(action));

describe('cluster and task', () => {
  test('the cluster has Container Insights', () => {
    shared().template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  test('a Fargate task of 1 vCPU and 2 GiB on linux/x86_64 by default', () => {
    shared().template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      Cpu: '1024',
      Memory: '2048',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
    });
  });

  test('takes another task size', () => {
    build({ cpu: 2048, memoryLimitMiB: 4096 }).template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '2048',
      Memory: '4096',
    });
  });

  test('one essential container: public and relay ports, 120 s to stop, non-blocking logs to its log group', () => {
    const { stack, service, template } = shared();
    expect(containerOf(template)).toMatchObject({
      Image: TEST_IMAGE,
      Essential: true,
      PortMappings: [
        { ContainerPort: 8080, Name: 'public', Protocol: 'tcp' },
        { ContainerPort: 8081, Name: 'relay', Protocol: 'tcp' },
      ],
      StopTimeout: 120,
      LogConfiguration: {
        LogDriver: 'awslogs',
        Options: {
          'awslogs-group': { Ref: idOf(stack, service.logGroup) },
          'awslogs-region': 'ap-south-1',
          'awslogs-stream-prefix': 'media',
          mode: 'non-blocking',
          'max-buffer-size': '26214400b',
        },
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('by default the image is built from ingest-container/Dockerfile for linux/amd64, from a small context', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'media-image-'));
    try {
      const { stack, template } = build({}, bundlingApp(outdir), null);
      expect(JSON.stringify(containerOf(template).Image)).toContain('container-assets');
      const assets = JSON.parse(fs.readFileSync(path.join(outdir, `${stack.artifactId}.assets.json`), 'utf8')) as {
        dockerImages: Record<string, { source: { directory: string; dockerFile: string; platform: string } }>;
      };
      const images = Object.values(assets.dockerImages);
      expect(images).toHaveLength(1);
      expect(images[0]!.source).toMatchObject({ dockerFile: 'ingest-container/Dockerfile', platform: 'linux/amd64' });

      // The root .dockerignore lets in only what the image is built from: no node_modules, .git, cdk.out, tests.
      const staged = path.join(outdir, images[0]!.source.directory);
      expect(fs.readdirSync(staged).sort()).toEqual([
        '.dockerignore',
        'core',
        'ingest-container',
        'package-lock.json',
        'package.json',
        'patches',
        'tsconfig.json',
      ]);
      expect(fs.readdirSync(path.join(staged, 'ingest-container'))).toEqual(
        expect.arrayContaining(['Dockerfile', 'src', 'console']),
      );
      expect(fs.readdirSync(path.join(staged, 'ingest-container'))).not.toContain('dist');
      const files = fs.readdirSync(staged, { recursive: true, encoding: 'utf8' });
      expect(files.filter((file) => file.includes('node_modules'))).toEqual([]);
      const bytes = files
        .map((file) => fs.statSync(path.join(staged, file)))
        .filter((stat) => stat.isFile())
        .reduce((sum, stat) => sum + stat.size, 0);
      expect(bytes).toBeLessThan(5 * 1024 * 1024);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('environment', () => {
  test('is exactly what the container reads: routing, its region, the control plane by name, ports, drain', () => {
    const { template } = shared();
    expect(environmentOf(template)).toEqual({
      ...mediaRoutingEnvironment(ROUTING),
      MEDIA_REGION: 'in002',
      LOG_LEVEL: 'info',
      TABLE_NAME: 'plivo-connector-data',
      KMS_KEY_ID: accountJoin('arn:aws:kms:us-east-1:', ':alias/plivo-connector-data'),
      WEBHOOK_QUEUE_URL: {
        'Fn::Join': [
          '',
          ['https://sqs.us-east-1.', { Ref: 'AWS::URLSuffix' }, '/', { Ref: 'AWS::AccountId' }, '/plivo-connector-webhooks'],
        ],
      },
      CONTROL_PLANE_AWS_REGION: 'us-east-1',
      PORT: '8080',
      RELAY_PORT: '8081',
      DRAIN_TIMEOUT_SECONDS: '110',
      MAX_ROOMS_PER_TENANT: '1000',
      MAX_PARTICIPANTS_PER_ROOM: '100',
      MAX_CONNECTIONS: '2048',
      MAX_CONNECTIONS_PER_TENANT: '1024',
      RECORDING_SEGMENT_SECONDS: '20',
    });
  });

  test('MAX_ROOMS_PER_TENANT, MAX_PARTICIPANTS_PER_ROOM and RECORDING_SEGMENT_SECONDS follow the props, MAX_CONNECTIONS the task memory, and the container reads them', () => {
    const env = environmentOf(build({ maxRoomsPerTenant: 20, maxParticipantsPerRoom: 8, memoryLimitMiB: 4096, recordingSegmentSeconds: 12 }).template);
    expect(env).toMatchObject({ MAX_ROOMS_PER_TENANT: '20', MAX_PARTICIPANTS_PER_ROOM: '8', MAX_CONNECTIONS: '4096', MAX_CONNECTIONS_PER_TENANT: '2048', RECORDING_SEGMENT_SECONDS: '12' });
    const config = loadMediaConfig({
      ...(Object.fromEntries(Object.entries(env).filter(([, value]) => typeof value === 'string')) as Record<string, string>),
      TABLE_NAME: 't',
      KMS_KEY_ID: 'k',
      WEBHOOK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/q',
      RELAY_HOST: '10.0.0.1',
    });
    expect(config.limits).toMatchObject({ maxRoomsPerTenant: 20, maxParticipantsPerRoom: 8, maxConnections: 4096, maxConnectionsPerTenant: 2048 });
    expect(config.recordingSegmentSeconds).toBe(12);
  });

  test('MEDIA_REGIONS names every region, this one and the others, as the control plane has them', () => {
    const env = environmentOf(shared().template);
    expect(JSON.parse(env.MEDIA_REGIONS as string)).toEqual({
      us002: { ingestUrl: 'wss://media-us.example.com', claimsTable: 'plivo-connector-us002-media', recordingsBucket: 'plivo-connector-recordings-us002', awsRegion: 'us-east-1' },
      in002: { ingestUrl: 'wss://ingest-in002.invalid', claimsTable: 'plivo-connector-in002-media', recordingsBucket: 'plivo-connector-recordings-in002', awsRegion: 'ap-south-1' },
    });
    expect(env.HOME_MEDIA_REGION).toBe('us002');
    expect(env.COUNTRY_REGIONS).toBe('IN=in002');
  });

  test('has no PUBLIC_URL and nothing secret-looking', () => {
    const env = environmentOf(shared().template);
    expect(env).not.toHaveProperty('PUBLIC_URL');
    expect(Object.keys(env).filter((name) => /SECRET|TOKEN|PASSWORD/.test(name))).toEqual([]);
  });
});

describe('service', () => {
  test('runs in the private subnets without public IPs, on its own security group', () => {
    const { stack, service, template } = shared();
    template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      PlatformVersion: 'LATEST',
      NetworkConfiguration: {
        AwsvpcConfiguration: {
          AssignPublicIp: 'DISABLED',
          SecurityGroups: [{ 'Fn::GetAtt': [idOf(stack, service.securityGroup), 'GroupId'] }],
          Subnets: stack.resolve(service.cluster.vpc.privateSubnets.map((subnet) => subnet.subnetId)),
        },
      },
    });
  });

  test('deploys new tasks before old ones go, and rolls back a deployment that never turns healthy', () => {
    shared().template.hasResourceProperties('AWS::ECS::Service', {
      DeploymentConfiguration: {
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      },
      HealthCheckGracePeriodSeconds: 60,
      DesiredCount: Match.absent(),
    });
  });

  test("registers the container's public port with the load balancer's target group", () => {
    const { stack, lb, template } = shared();
    template.hasResourceProperties('AWS::ECS::Service', {
      LoadBalancers: [{ ContainerName: 'Media', ContainerPort: 8080, TargetGroupArn: { Ref: idOf(stack, lb.targetGroup) } }],
    });
  });

  test('accepts 8080 from the load balancer and 8081 from its own tasks, nothing else', () => {
    const { stack, service, lb, template } = shared();
    const sg = { 'Fn::GetAtt': [idOf(stack, service.securityGroup), 'GroupId'] };
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).map(
      (r) => (r as { Properties: Record<string, unknown> }).Properties,
    );
    expect(ingress.filter((rule) => JSON.stringify(rule.GroupId) === JSON.stringify(sg))).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 8080,
        ToPort: 8080,
        SourceSecurityGroupId: { 'Fn::GetAtt': [idOf(stack, lb.securityGroup), 'GroupId'] },
      }),
      expect.objectContaining({ IpProtocol: 'tcp', FromPort: 8081, ToPort: 8081, SourceSecurityGroupId: sg }),
    ]);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('media tasks'),
      SecurityGroupIngress: Match.absent(),
    });
  });

  test('the load balancer may reach the tasks on 8080 only', () => {
    const { stack, service, lb, template } = shared();
    template.resourcePropertiesCountIs(
      'AWS::EC2::SecurityGroupEgress',
      { GroupId: { 'Fn::GetAtt': [idOf(stack, lb.securityGroup), 'GroupId'] } },
      1,
    );
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [idOf(stack, lb.securityGroup), 'GroupId'] },
      DestinationSecurityGroupId: { 'Fn::GetAtt': [idOf(stack, service.securityGroup), 'GroupId'] },
      FromPort: 8080,
      ToPort: 8080,
    });
  });
});

describe('task role', () => {
  test('has exactly these seven statements and no managed policy', () => {
    const built = shared();
    expect(taskRoleStatements(built)).toHaveLength(7);
    built.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: 'ecs-tasks.amazonaws.com' } })],
      }),
      ManagedPolicyArns: Match.absent(),
    });
  });

  test("may get, put, update, delete and query items of its region's table, and not its indexes", () => {
    const built = shared();
    expect(withAction(taskRoleStatements(built), 'dynamodb:DeleteItem')).toEqual([
      {
        Effect: 'Allow',
        Action: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
        Resource: { 'Fn::GetAtt': [idOf(built.stack, built.table.table), 'Arn'] },
      },
    ]);
  });

  test("may get, query, put and update items of the control plane's table, and query its indexes", () => {
    const statements = taskRoleStatements(shared());
    expect(withAction(statements, 'dynamodb:GetItem')).toContainEqual({
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
      Resource: accountJoin('arn:aws:dynamodb:us-east-1:', ':table/plivo-connector-data'),
    });
    expect(withAction(statements, 'dynamodb:Query')).toContainEqual({
      Effect: 'Allow',
      Action: 'dynamodb:Query',
      Resource: accountJoin('arn:aws:dynamodb:us-east-1:', ':table/plivo-connector-data/index/*'),
    });
    expect(JSON.stringify(statements)).not.toMatch(/dynamodb:(Scan|BatchWriteItem|DeleteTable|\*)/);
  });

  test('may only decrypt with the secrets key, found by its alias', () => {
    const statements = taskRoleStatements(shared()).filter((s) =>
      JSON.stringify(s.Condition ?? {}).includes('alias/plivo-connector-data'),
    );
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: accountJoin('arn:aws:kms:us-east-1:', ':key/*'),
        Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': ['alias/plivo-connector-data'] } },
      },
    ]);
  });

  test("may use the table key as DynamoDB does for a customer managed key, only through DynamoDB", () => {
    const statements = taskRoleStatements(shared()).filter((s) =>
      JSON.stringify(s.Condition ?? {}).includes('alias/plivo-connector-table'),
    );
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
        Resource: accountJoin('arn:aws:kms:us-east-1:', ':key/*'),
        Condition: {
          'ForAnyValue:StringEquals': { 'kms:ResourceAliases': ['alias/plivo-connector-table'] },
          StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['dynamodb.us-east-1.', { Ref: 'AWS::URLSuffix' }]] } },
        },
      },
    ]);
  });

  test("may do what the room's hangup through Plivo needs: read the connector and webhooks, open the Plivo token, reach Plivo", () => {
    const built = build({ routing: { ...ROUTING, plivoApiUrl: 'https://plivo.example.com' } });
    const statements = taskRoleStatements(built);
    const controlTable = accountJoin('arn:aws:dynamodb:us-east-1:', ':table/plivo-connector-data');
    // The connector, the tenant's rules and webhooks in one Query; the call record read and ended.
    for (const action of ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:UpdateItem']) {
      expect(withAction(statements, action).some((s) => JSON.stringify(s.Resource) === JSON.stringify(controlTable))).toBe(true);
    }
    const decrypt = withAction(statements, 'kms:Decrypt').filter((s) => JSON.stringify(s.Condition).includes('alias/plivo-connector-data'));
    expect(decrypt).toHaveLength(1);
    expect(environmentOf(built.template).PLIVO_API_URL).toBe('https://plivo.example.com');
    // Plivo's API is on the internet: the tasks may reach it.
    built.template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: Match.arrayWith([Match.objectLike({ CidrIp: '0.0.0.0/0', IpProtocol: '-1' })]),
    });
  });

  test('every KMS statement is narrowed to one alias; none signs or generates data keys directly', () => {
    const kms = taskRoleStatements(shared()).filter((s) => JSON.stringify(s.Action).includes('kms:'));
    expect(kms).toHaveLength(2);
    for (const statement of kms) expect(JSON.stringify(statement.Condition)).toContain('kms:ResourceAliases');
    expect(JSON.stringify(kms)).not.toContain('kms:Sign');
  });

  test('may send to the webhook queue, and nothing else in SQS', () => {
    const sqs = taskRoleStatements(shared()).filter((s) => JSON.stringify(s.Action).includes('sqs:'));
    expect(sqs).toEqual([
      {
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: accountJoin('arn:aws:sqs:us-east-1:', ':plivo-connector-webhooks'),
      },
    ]);
  });

  test("may get and set scale-in protection of its own cluster's tasks", () => {
    const built = shared();
    expect(withAction(taskRoleStatements(built), 'ecs:UpdateTaskProtection')).toEqual([
      {
        Effect: 'Allow',
        Action: ['ecs:GetTaskProtection', 'ecs:UpdateTaskProtection'],
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:aws:ecs:ap-south-1:',
              { Ref: 'AWS::AccountId' },
              ':task/',
              { Ref: idOf(built.stack, built.service.cluster) },
              '/*',
            ],
          ],
        },
      },
    ]);
  });

  test('follows the control plane to another AWS region', () => {
    const stack = new Stack(testApp(), 'Media', { env: { region: 'ap-south-1' } });
    const vpc = new MediaNetwork(stack, 'Network').vpc;
    const service = new MediaService(stack, 'Media', {
      vpc,
      loadBalancer: new MediaLoadBalancer(stack, 'LoadBalancer', { vpc }),
      regionId: 'in002',
      routing: { ...ROUTING, homeMediaRegionId: 'in002' },
      regionTable: new RegionTable(stack, 'RegionTable', { regionId: 'in002' }).table,
      controlPlane: controlPlaneReferences(stack, 'eu-west-1'),
      image: ContainerImage.fromRegistry(TEST_IMAGE),
    });
    const template = Template.fromStack(stack);
    const statements = taskRoleStatements({ stack, service, template } as Built);
    const homeStatements = statements.filter((s) => JSON.stringify(s.Resource).includes('eu-west-1'));
    expect(homeStatements).toHaveLength(5);
    expect(JSON.stringify(statements)).not.toContain('us-east-1');
    expect(environmentOf(template).CONTROL_PLANE_AWS_REGION).toBe('eu-west-1');
  });
});

describe('autoscaling', () => {
  const policies = (template: Template) =>
    Object.values(template.findResources('AWS::ApplicationAutoScaling::ScalingPolicy')).map(
      (r) => (r as { Properties: { TargetTrackingScalingPolicyConfiguration: Record<string, unknown> } }).Properties,
    );

  test('from 2 to 20 tasks by default', () => {
    shared().template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 2,
      MaxCapacity: 20,
      ScalableDimension: 'ecs:service:DesiredCount',
    });
  });

  test('tracks an average of 200 active calls per task, from the region\'s ActiveCalls metric', () => {
    expect(policies(shared().template).map((p) => p.TargetTrackingScalingPolicyConfiguration)).toContainEqual({
      CustomizedMetricSpecification: {
        Namespace: 'PlivoConnector/Media',
        MetricName: 'ActiveCalls',
        Dimensions: [{ Name: 'MediaRegion', Value: 'in002' }],
        Statistic: 'Average',
      },
      TargetValue: 200,
      ScaleOutCooldown: 60,
      ScaleInCooldown: 600,
    });
  });

  test('tracks 60% average CPU', () => {
    expect(policies(shared().template).map((p) => p.TargetTrackingScalingPolicyConfiguration)).toContainEqual({
      PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
      TargetValue: 60,
      ScaleOutCooldown: 60,
      ScaleInCooldown: 600,
    });
  });

  test('takes calls per task, CPU target and task counts', () => {
    const { template } = build({ callsPerTask: 120, cpuTargetPercent: 50, minTasks: 3, maxTasks: 6 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 3, MaxCapacity: 6 });
    const targets = policies(template).map((p) => p.TargetTrackingScalingPolicyConfiguration.TargetValue);
    expect(targets.sort()).toEqual([120, 50]);
  });
});

describe('alarms', () => {
  test.each([
    ['relay errors', 'RelayErrors', 5],
    ['claim failures', 'ClaimFailures', 10],
    ['connections refused', 'ConnectionsRefused', 10],
    ['failed agent dials', 'AgentDialsFailed', 5],
    ['failed recordings', 'RecordingsFailed', 1],
  ] as const)('on %s: a 5-minute sum at or above its threshold, missing data not breaching', (_name, metric, threshold) => {
    shared().template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'PlivoConnector/Media',
      MetricName: metric,
      Dimensions: [{ Name: 'MediaRegion', Value: 'in002' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: threshold,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: Match.absent(),
    });
  });

  test('are listed', () => {
    const { service } = shared();
    // Compared by identity: the alarms themselves do not print.
    const expected = [
      service.relayErrorsAlarm,
      service.claimFailuresAlarm,
      service.connectionsRefusedAlarm,
      service.agentDialsFailedAlarm,
      service.recordingsFailedAlarm,
      service.underrunsAlarm,
    ];
    expect(service.alarms.length).toBe(expected.length);
    expect(service.alarms.every((alarm, i) => alarm === expected[i])).toBe(true);
  });
});

describe('invalid props', () => {
  test('rejects a region the routing does not name', () => {
    expect(() => build({ regionId: 'eu001' })).toThrow(/regionId "eu001" is none of the routing's mediaRegions/);
  });

  test('rejects an inconsistent routing', () => {
    expect(() => build({ routing: { ...ROUTING, homeMediaRegionId: 'eu001' } })).toThrow(
      /MediaService Media: homeMediaRegionId "eu001" is none of the mediaRegions/,
    );
  });

  test.each([
    [{ callsPerTask: 0 }, /callsPerTask must be a positive integer/],
    [{ callsPerTask: 2.5 }, /callsPerTask must be a positive integer/],
    [{ cpuTargetPercent: 95 }, /cpuTargetPercent must be from 10 to 90/],
    [{ minTasks: 1 }, /minTasks must be an integer of at least 2/],
    [{ maxTasks: 1 }, /maxTasks must be an integer no smaller than minTasks \(2\)/],
    [{ minTasks: 4, maxTasks: 3 }, /maxTasks must be an integer no smaller than minTasks \(4\)/],
    [{ maxRoomsPerTenant: 0 }, /maxRoomsPerTenant must be a whole number from 1 to 1000000, got 0/],
    [{ maxRoomsPerTenant: 1.5 }, /maxRoomsPerTenant must be a whole number from 1 to 1000000/],
    [{ maxParticipantsPerRoom: 1 }, /maxParticipantsPerRoom must be a whole number from 2 to 10000 \(a call routed to an agent takes two seats\), got 1/],
    [{ maxParticipantsPerRoom: 10_001 }, /maxParticipantsPerRoom must be a whole number from 2 to 10000/],
    [{ recordingSegmentSeconds: 26 }, /recordingSegmentSeconds must be a whole number from 1 to 25 \(a dead task loses at most one segment, under 30 s\), got 26/],
    [{ recordingSegmentSeconds: 0.5 }, /recordingSegmentSeconds must be a whole number from 1 to 25/],
  ] as const)('rejects %p', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});

test('cdk-nag AwsSolutions: nothing unacknowledged', () => {
  const { stack } = shared();
  const findings = new AwsSolutionsChecks()
    .validateScope(stack)
    .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));
  expect(findings).toEqual([]);
});
