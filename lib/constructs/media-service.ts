import * as path from 'node:path';
import { ArnFormat, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, MathExpression, TreatMissingData, type Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { Port, SecurityGroup, SubnetType, type IVpc } from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  AwsLogDriverMode,
  Cluster,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargatePlatformVersion,
  FargateService,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
  type ContainerDefinition,
} from 'aws-cdk-lib/aws-ecs';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ControlPlaneReferences } from '../control-plane-names';
import { LIMIT_DEFAULTS } from '../../core/limits';
import { SEGMENT_SECONDS } from '../../core/recordings/model';
import { MEDIA_CONTAINER, MEDIA_METRICS, mediaMetric } from '../media-container';
import { mediaRoutingEnvironment, validateMediaRouting, type MediaRouting } from '../media-routing';
import { wildcardResourceFinding } from '../nag-findings';
import type { MediaLoadBalancer } from './media-load-balancer';

/** The repository root: the image's build context (the root .dockerignore lets in only what the image needs). */
const REPO_ROOT = path.join(__dirname, '..', '..');
const DOCKERFILE = 'ingest-container/Dockerfile';

/**
 * The container's actions on its own region's table: claims taken once, room placement leases, its commands taken
 * (switch-room, close-room, dispatch-agent) and an agent dispatch passed on to the server its room is placed on.
 */
const REGION_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
] as const;
/**
 * On the control plane's table: connectors, routing rules and webhooks read (a stream's signature is checked with its
 * connector's Plivo auth token; the room's `hangup` reads the connector's Plivo credentials and the webhooks in one
 * Query), call records written and ended, agent dispatch jobs' outcomes recorded.
 */
const HOME_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'] as const;
/**
 * What DynamoDB does with a customer managed table key on the caller's behalf, as Table.grantReadWriteData grants
 * it: decrypt to read, encrypt and generate data keys to write.
 */
const TABLE_KEY_ACTIONS = ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*'];

/** Sums of a count over 5 minutes at or above which its alarm fires. */
const RELAY_ERRORS_THRESHOLD = 5;
const CLAIM_FAILURES_THRESHOLD = 10;
const CONNECTIONS_REFUSED_THRESHOLD = 10;
const AGENT_DIALS_FAILED_THRESHOLD = 5;
/** Every failed recording is audio a tenant asked to keep and lost. */
const RECORDINGS_FAILED_THRESHOLD = 1;
/**
 * Underruns per call-minute of steady sources (callers, browsers) at which the underruns alarm fires, when they last
 * `UNDERRUNS_PERIODS` periods of 5 minutes over at least `UNDERRUNS_MIN_CALL_MINUTES` call-minutes each. A jittery
 * network gives a few a minute while the buffer adapts; one every 6 s or more on average, for 15 minutes, is callers
 * hearing gaps. A first estimate: tune it to what a healthy region shows.
 */
const UNDERRUNS_PER_CALL_MINUTE = 10;
const UNDERRUNS_PERIODS = 3;
const UNDERRUNS_MIN_CALL_MINUTES = 10;

export interface MediaServiceProps {
  readonly vpc: IVpc;
  /** The load balancer the tasks register with and accept public connections from. */
  readonly loadBalancer: MediaLoadBalancer;
  /** Our id of this media region, e.g. `us002`; one of `routing.mediaRegions`. */
  readonly regionId: string;
  /** Every media region, as the control plane's functions get them: the container reads the same environment. */
  readonly routing: MediaRouting;
  /** This region's table of call claims and room placement leases. */
  readonly regionTable: ITable;
  /** The control plane's table, secrets key and webhook queue, by name (they live in another stack and region). */
  readonly controlPlane: ControlPlaneReferences;
  /**
   * The media server's container image. @default - built from ingest-container/Dockerfile with the repository root as its
   * context, for linux/amd64
   */
  readonly image?: ContainerImage;
  /** Fargate CPU units per task; one Node.js event loop uses one vCPU. @default 1024 */
  readonly cpu?: number;
  /** Memory per task in MiB, valid for `cpu` on Fargate. @default 2048 */
  readonly memoryLimitMiB?: number;
  /**
   * Average calls per task that autoscaling holds (target tracking on `ActiveCalls`). A first estimate, to be
   * replaced by measured capacity: at the measured ~1.85 ms of CPU per call-second for a bare relay, 200 calls keep
   * one vCPU below 40% busy, with room for mixing and for bursts before new tasks are up.
   * @default 200
   */
  readonly callsPerTask?: number;
  /** Average CPU utilization (%) autoscaling holds, next to calls per task. @default 60 */
  readonly cpuTargetPercent?: number;
  /** Fewest tasks, at least 2 so that each of the two AZs keeps one. @default 2 */
  readonly minTasks?: number;
  /** Most tasks. @default 20 */
  readonly maxTasks?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * Rooms one tenant may have placed on one task at once (`MAX_ROOMS_PER_TENANT`); a join that would place another
   * there is refused (429; a call is closed with 4431). Counted per task, not per region.
   * @default 1000 (`LIMIT_DEFAULTS.maxRoomsPerTenant`)
   */
  readonly maxRoomsPerTenant?: number;
  /**
   * Seats in one room (`MAX_PARTICIPANTS_PER_ROOM`), counted by the task the room is placed on: callers (two for a call
   * routed to an agent), room-protocol participants; a join beyond them is refused (429; a call is closed with 4430).
   * @default 100 (`LIMIT_DEFAULTS.maxParticipantsPerRoom`)
   */
  readonly maxParticipantsPerRoom?: number;
  /**
   * Seconds of audio in each recording segment a task uploads (`RECORDING_SEGMENT_SECONDS`), 1-25: what a recording
   * loses at most when its task dies (under 30 s). Shorter: more S3 requests per recorded second.
   * @default 20 (`SEGMENT_SECONDS.default`: a call's 8 kHz stereo segment is 320 KB of mu-law)
   */
  readonly recordingSegmentSeconds?: number;
  /**
   * The management API's public URL (`CONSOLE_API_URL`): the web console calls it, and its content security policy
   * allows it. Cross-region, the control plane's URL is known at synth only as a name given in the context.
   * @default - none: the console asks for the API's URL, and its policy allows only its own origin
   */
  readonly consoleApiUrl?: string;
}

/**
 * A media region's ECS Fargate service: the media server's container (ingest and room bridge) in private subnets behind the
 * region's load balancer, with Container Insights, autoscaling on calls per task and on CPU, and alarms on relay
 * errors and claim failures. The task role may use the region's table, the control plane's table, its secrets key
 * (decrypt only) and webhook queue (send only), and its own tasks' scale-in protection: nothing else.
 *
 * Tasks protect themselves from scale-in while they hold calls (the container calls the ECS agent's task-protection
 * endpoint); on SIGTERM a task drains for up to `MEDIA_CONTAINER.drainTimeoutSeconds`, within the stop timeout.
 */
export class MediaService extends Construct {
  public readonly cluster: Cluster;
  public readonly taskDefinition: FargateTaskDefinition;
  public readonly container: ContainerDefinition;
  public readonly service: FargateService;
  public readonly securityGroup: SecurityGroup;
  public readonly logGroup: LogGroup;
  /** Relay connections between tasks keep failing. */
  public readonly relayErrorsAlarm: Alarm;
  /** Streams keep being refused for their claim or signature. */
  public readonly claimFailuresAlarm: Alarm;
  /** Connections refused at a task's connection limits: tasks full, or one tenant at its share. */
  public readonly connectionsRefusedAlarm: Alarm;
  /** Agents (rules', dispatched) keep not answering their dials: calls go on without them. */
  public readonly agentDialsFailedAlarm: Alarm;
  /** A recording failed: its audio is lost. */
  public readonly recordingsFailedAlarm: Alarm;
  /** Callers' and browsers' audio keeps arriving late at the rooms, for 15 minutes: people hear gaps. */
  public readonly underrunsAlarm: Alarm;
  private readonly regionId: string;

  constructor(scope: Construct, id: string, props: MediaServiceProps) {
    super(scope, id);
    const settings = validate(id, props);
    this.regionId = props.regionId;

    this.cluster = new Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ContainerInsights.ENABLED,
    });

    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention ?? RetentionDays.ONE_MONTH });
    this.taskDefinition = new FargateTaskDefinition(this, 'Task', {
      cpu: settings.cpu,
      memoryLimitMiB: settings.memoryLimitMiB,
      // bufferutil 4.1.0 ships a prebuilt addon for linux-x64 but not linux-arm64, where the image would need a
      // compiler; and amd64 images build without emulation on most CI runners.
      runtimePlatform: { cpuArchitecture: CpuArchitecture.X86_64, operatingSystemFamily: OperatingSystemFamily.LINUX },
    });
    this.container = this.taskDefinition.addContainer('Media', {
      image:
        props.image ??
        ContainerImage.fromAsset(REPO_ROOT, { file: DOCKERFILE, platform: Platform.LINUX_AMD64 }),
      essential: true,
      portMappings: [
        { name: 'public', containerPort: MEDIA_CONTAINER.publicPort },
        { name: 'relay', containerPort: MEDIA_CONTAINER.relayPort },
      ],
      environment: {
        ...mediaRoutingEnvironment(props.routing),
        MEDIA_REGION: props.regionId,
        LOG_LEVEL: 'info',
        TABLE_NAME: props.controlPlane.tableName,
        KMS_KEY_ID: props.controlPlane.dataKeyAliasArn,
        WEBHOOK_QUEUE_URL: props.controlPlane.webhookQueueUrl,
        CONTROL_PLANE_AWS_REGION: props.controlPlane.awsRegion,
        PORT: String(MEDIA_CONTAINER.publicPort),
        RELAY_PORT: String(MEDIA_CONTAINER.relayPort),
        DRAIN_TIMEOUT_SECONDS: String(MEDIA_CONTAINER.drainTimeoutSeconds),
        MAX_ROOMS_PER_TENANT: String(settings.maxRoomsPerTenant),
        MAX_PARTICIPANTS_PER_ROOM: String(settings.maxParticipantsPerRoom),
        // About 1 MiB of the task's memory per connection, and half of them for one tenant (`docs/operations.md`, "Limits").
        MAX_CONNECTIONS: String(settings.memoryLimitMiB),
        MAX_CONNECTIONS_PER_TENANT: String(Math.floor(settings.memoryLimitMiB / 2)),
        RECORDING_SEGMENT_SECONDS: String(settings.recordingSegmentSeconds),
        ...(props.consoleApiUrl !== undefined && { CONSOLE_API_URL: props.consoleApiUrl }),
      },
      stopTimeout: Duration.seconds(MEDIA_CONTAINER.stopTimeoutSeconds),
      logging: LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: 'media',
        // A blocked stdout would stall the one event loop that paces every call's audio; under CloudWatch Logs
        // throttling lines (metrics included) are dropped from a 25 MB buffer instead.
        mode: AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
    });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds names only (tables, key alias, queue URL, regions, ports), no secret: Plivo auth ' +
        'tokens and tenant secrets stay sealed with the KMS key in the table and are opened at run time.',
    });

    Validations.of(this.taskDefinition.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'The execution role pulls the image from ECR, which needs ecr:GetAuthorizationToken, an action without ' +
        'resource-level permissions; its pull and log statements name the one repository and log group.',
    });

    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Plivo connector media tasks: public port from the load balancer, relay port from each other',
      // AWS APIs in this and the home region, and AI agents' WebSocket URLs anywhere.
      allowAllOutbound: true,
    });
    this.service = new FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      platformVersion: FargatePlatformVersion.LATEST,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [this.securityGroup],
      assignPublicIp: false,
      // A deployment starts new tasks before old ones drain, and rolls back when they never turn healthy.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriod: Duration.seconds(60),
    });
    this.service.attachToNetworkTargetGroup(props.loadBalancer.targetGroup);
    this.service.connections.allowFrom(
      props.loadBalancer.loadBalancer,
      Port.tcp(MEDIA_CONTAINER.publicPort),
      'Streams, rooms and health checks from the load balancer',
    );
    // Ingress only: egress is open anyway (allowInternally would add an ignored egress rule and a synth warning).
    this.securityGroup.addIngressRule(
      this.securityGroup,
      Port.tcp(MEDIA_CONTAINER.relayPort),
      'Relay between media tasks',
    );

    this.grantTaskRole(props);

    const scaling = this.service.autoScaleTaskCount({ minCapacity: settings.minTasks, maxCapacity: settings.maxTasks });
    // Quick out, slow in: a new task takes a minute to serve, and a task with calls cannot be taken away anyway.
    const cooldowns = { scaleOutCooldown: Duration.minutes(1), scaleInCooldown: Duration.minutes(10) };
    scaling.scaleToTrackCustomMetric('ActiveCalls', {
      metric: this.metric(MEDIA_METRICS.activeCalls, 'Average', Duration.minutes(1)),
      targetValue: settings.callsPerTask,
      ...cooldowns,
    });
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: settings.cpuTargetPercent, ...cooldowns });

    this.relayErrorsAlarm = this.countAlarm(
      'RelayErrorsAlarm',
      MEDIA_METRICS.relayErrors,
      RELAY_ERRORS_THRESHOLD,
      `Relays between media tasks of ${props.regionId} failed ${RELAY_ERRORS_THRESHOLD} times or more within ` +
        '5 minutes: streams that landed away from their room cannot reach it (security group, task gone, overload).',
    );
    this.claimFailuresAlarm = this.countAlarm(
      'ClaimFailuresAlarm',
      MEDIA_METRICS.claimFailures,
      CLAIM_FAILURES_THRESHOLD,
      `${CLAIM_FAILURES_THRESHOLD} or more streams were refused in ${props.regionId} within 5 minutes for an ` +
        'unknown, used or expired claim or a failed Plivo signature: the answer handler may write claims where the ' +
        'ingest does not look, Plivo may be slow to connect, or someone probes /plivo.',
    );
    this.connectionsRefusedAlarm = this.countAlarm(
      'ConnectionsRefusedAlarm',
      MEDIA_METRICS.connectionsRefused,
      CONNECTIONS_REFUSED_THRESHOLD,
      `${CONNECTIONS_REFUSED_THRESHOLD} or more connections were refused in ${props.regionId} within 5 minutes at a ` +
        "task's MAX_CONNECTIONS (tasks full faster than autoscaling adds them: raise minTasks or memory) or a tenant's " +
        'MAX_CONNECTIONS_PER_TENANT (one tenant at its share of a task; the log names it).',
    );
    this.agentDialsFailedAlarm = this.countAlarm(
      'AgentDialsFailedAlarm',
      MEDIA_METRICS.agentDialsFailed,
      AGENT_DIALS_FAILED_THRESHOLD,
      `${AGENT_DIALS_FAILED_THRESHOLD} or more agent dials failed in ${props.regionId} within 5 minutes (three ` +
        'attempts each): the calls went on without their agent. The log (`agent connect failed`) names the agent and ' +
        'why: the agent is down, its URL or TLS is wrong, or it is not at a public address.',
    );
    this.recordingsFailedAlarm = this.countAlarm(
      'RecordingsFailedAlarm',
      MEDIA_METRICS.recordingsFailed,
      RECORDINGS_FAILED_THRESHOLD,
      `A recording failed in ${props.regionId}: its audio could not be written to the region's bucket. The log ` +
        'names the recording and the error (permissions, the bucket, S3 throttling).',
    );
    this.underrunsAlarm = new Alarm(this, 'UnderrunsAlarm', {
      alarmDescription:
        `Callers' and browsers' audio ran dry in ${props.regionId}'s rooms over ${UNDERRUNS_PER_CALL_MINUTE} times ` +
        `per call-minute for ${UNDERRUNS_PERIODS * 5} minutes: their audio reaches the tasks late. Check LateTicks ` +
        '(tasks short of CPU: lower callsPerTask or cpuTargetPercent) and the network between Plivo and the region.',
      metric: this.underrunsPerCallMinute(Duration.minutes(5), UNDERRUNS_MIN_CALL_MINUTES),
      threshold: UNDERRUNS_PER_CALL_MINUTE,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: UNDERRUNS_PERIODS,
      // No calls reported, no datapoints: nothing ran dry.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  public get alarms(): readonly Alarm[] {
    return [
      this.relayErrorsAlarm,
      this.claimFailuresAlarm,
      this.connectionsRefusedAlarm,
      this.agentDialsFailedAlarm,
      this.recordingsFailedAlarm,
      this.underrunsAlarm,
    ];
  }

  /** One of the container's metrics for this region (all tasks' datapoints together). */
  public metric(metricName: string, statistic: string, period: Duration): Metric {
    return mediaMetric(this.regionId, metricName, { statistic, period });
  }

  /**
   * Underruns per call-minute over the region: each task reports its calls every `reportSeconds`, so the Sum of
   * `ActiveCalls` over a period, times `reportSeconds / 60`, is the call-minutes in it. 0 below `minCallMinutes`.
   */
  public underrunsPerCallMinute(period: Duration, minCallMinutes: number): MathExpression {
    const perMinute = 60 / MEDIA_METRICS.reportSeconds;
    return new MathExpression({
      expression: `IF(calls >= ${minCallMinutes * perMinute}, ${perMinute} * FILL(underruns, 0) / calls, 0)`,
      usingMetrics: {
        underruns: this.metric(MEDIA_METRICS.underruns, 'Sum', period),
        calls: this.metric(MEDIA_METRICS.activeCalls, 'Sum', period),
      },
      label: 'Underruns per call-minute',
      period,
    });
  }

  private grantTaskRole(props: MediaServiceProps): void {
    const role = this.taskDefinition.taskRole;
    const cp = props.controlPlane;
    const ownTasksArn = Stack.of(this).formatArn({
      service: 'ecs',
      resource: 'task',
      resourceName: `${this.cluster.clusterName}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    const statements = [
      // Claims (taken with one conditional write) and room placement leases.
      new PolicyStatement({ actions: [...REGION_TABLE_ACTIONS], resources: [props.regionTable.tableArn] }),
      new PolicyStatement({ actions: [...HOME_TABLE_ACTIONS], resources: [cp.tableArn] }),
      new PolicyStatement({ actions: ['dynamodb:Query'], resources: [cp.tableIndexesArn] }),
      // Keys are known by alias only: their ids exist in another stack, in another region. Decrypt opens connectors'
      // Plivo auth tokens (stream signatures, the room's `hangup` through Plivo) and tenants' secrets.
      new PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [cp.keysArn],
        conditions: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': [cp.dataKeyAlias] } },
      }),
      new PolicyStatement({
        actions: TABLE_KEY_ACTIONS,
        resources: [cp.keysArn],
        conditions: {
          'ForAnyValue:StringEquals': { 'kms:ResourceAliases': [cp.tableKeyAlias] },
          // Only as DynamoDB uses it for the table: never to encrypt or decrypt anything directly.
          StringEquals: { 'kms:ViaService': cp.dynamoDbServiceName },
        },
      }),
      // SQS-managed encryption: sending needs no key.
      new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [cp.webhookQueueArn] }),
      new PolicyStatement({
        actions: ['ecs:GetTaskProtection', 'ecs:UpdateTaskProtection'],
        resources: [ownTasksArn],
      }),
    ];
    for (const statement of statements) role.addToPrincipalPolicy(statement);

    const acknowledge = (id: string, reason: string) => Validations.of(role).acknowledge({ id, reason });
    acknowledge(
      wildcardResourceFinding(this, cp.tableIndexesArn),
      'Queries by index on the control plane table (calls by time, due work): the wildcard covers the indexes of ' +
        'that one table, no other table.',
    );
    acknowledge(
      wildcardResourceFinding(this, cp.keysArn),
      "The control plane's keys live in another stack and region, so their ids are unknown here; each statement " +
        'on key/* is narrowed by kms:ResourceAliases to one alias of ours (and the table key to DynamoDB).',
    );
    for (const action of ['kms:ReEncrypt*', 'kms:GenerateDataKey*']) {
      acknowledge(
        `AwsSolutions-IAM5[Action::${action}]`,
        `Writes to a table under a customer managed key take ${action} (as Table.grantWriteData grants it), ` +
          "because DynamoDB uses that key on the caller's behalf; limited to that key and to DynamoDB's use of it.",
      );
    }
    acknowledge(
      wildcardResourceFinding(this, ownTasksArn),
      'Task scale-in protection is set by each task on itself, and task ids are only known at run time: the ' +
        "wildcard covers this service's cluster's tasks only.",
    );
  }

  private countAlarm(id: string, metricName: string, threshold: number, description: string): Alarm {
    return new Alarm(this, id, {
      alarmDescription: description,
      metric: this.metric(metricName, 'Sum', Duration.minutes(5)),
      threshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // Every task reports its counts every 15 s, zeros included: no datapoint means no task runs, which the
      // unhealthy-hosts alarm and ECS itself report, not a failure of this kind.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }
}

interface Settings {
  readonly cpu: number;
  readonly memoryLimitMiB: number;
  readonly callsPerTask: number;
  readonly cpuTargetPercent: number;
  readonly minTasks: number;
  readonly maxTasks: number;
  readonly maxRoomsPerTenant: number;
  readonly maxParticipantsPerRoom: number;
  readonly recordingSegmentSeconds: number;
}

function validate(id: string, props: MediaServiceProps): Settings {
  const owner = `MediaService ${id}`;
  validateMediaRouting(owner, props.routing);
  if (!props.routing.mediaRegions.some((region) => region.id === props.regionId)) {
    throw new Error(
      `${owner}: regionId "${props.regionId}" is none of the routing's mediaRegions ` +
        `(${props.routing.mediaRegions.map((region) => region.id).join(', ')}).`,
    );
  }
  const settings: Settings = {
    cpu: props.cpu ?? 1024,
    memoryLimitMiB: props.memoryLimitMiB ?? 2048,
    callsPerTask: props.callsPerTask ?? 200,
    cpuTargetPercent: props.cpuTargetPercent ?? 60,
    minTasks: props.minTasks ?? 2,
    maxTasks: props.maxTasks ?? 20,
    maxRoomsPerTenant: props.maxRoomsPerTenant ?? LIMIT_DEFAULTS.maxRoomsPerTenant,
    maxParticipantsPerRoom: props.maxParticipantsPerRoom ?? LIMIT_DEFAULTS.maxParticipantsPerRoom,
    recordingSegmentSeconds: props.recordingSegmentSeconds ?? SEGMENT_SECONDS.default,
  };
  if (!Number.isInteger(settings.callsPerTask) || settings.callsPerTask < 1) {
    throw new Error(`${owner}: callsPerTask must be a positive integer, got ${settings.callsPerTask}.`);
  }
  if (!(settings.cpuTargetPercent >= 10 && settings.cpuTargetPercent <= 90)) {
    throw new Error(`${owner}: cpuTargetPercent must be from 10 to 90, got ${settings.cpuTargetPercent}.`);
  }
  if (!Number.isInteger(settings.minTasks) || settings.minTasks < 2) {
    throw new Error(`${owner}: minTasks must be an integer of at least 2 (one task per AZ), got ${settings.minTasks}.`);
  }
  if (!Number.isInteger(settings.maxTasks) || settings.maxTasks < settings.minTasks) {
    throw new Error(
      `${owner}: maxTasks must be an integer no smaller than minTasks (${settings.minTasks}), got ${settings.maxTasks}.`,
    );
  }
  // The container refuses to start outside these ranges (ingest-container/src/config.ts).
  if (!Number.isInteger(settings.maxRoomsPerTenant) || settings.maxRoomsPerTenant < 1 || settings.maxRoomsPerTenant > 1_000_000) {
    throw new Error(`${owner}: maxRoomsPerTenant must be a whole number from 1 to 1000000, got ${settings.maxRoomsPerTenant}.`);
  }
  const seats = settings.maxParticipantsPerRoom;
  if (!Number.isInteger(seats) || seats < 2 || seats > 10_000) {
    throw new Error(
      `${owner}: maxParticipantsPerRoom must be a whole number from 2 to 10000 (a call routed to an agent takes two ` +
        `seats), got ${seats}.`,
    );
  }
  const segment = settings.recordingSegmentSeconds;
  if (!Number.isInteger(segment) || segment < SEGMENT_SECONDS.min || segment > SEGMENT_SECONDS.max) {
    throw new Error(
      `${owner}: recordingSegmentSeconds must be a whole number from ${SEGMENT_SECONDS.min} to ${SEGMENT_SECONDS.max} ` +
        `(a dead task loses at most one segment, under 30 s), got ${segment}.`,
    );
  }
  return settings;
}
