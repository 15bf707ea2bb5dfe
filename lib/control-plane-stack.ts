import * as path from 'node:path';
import { Annotations, ArnFormat, CfnOutput, Duration, Fn, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { ApiEdge } from './constructs/api-edge';
import { ControlPlaneDashboard } from './constructs/control-plane-dashboard';
import { DataTable } from './constructs/data-table';
import { RecordingsBucket } from './constructs/recordings-bucket';
import { Keys } from './constructs/keys';
import { ServiceFunction } from './constructs/service-function';
import { ServiceHttpApi } from './constructs/service-http-api';
import { Sweeper } from './constructs/sweeper';
import { WebhookDelivery } from './constructs/webhook-delivery';
import { WebhookQueue } from './constructs/webhook-queue';
import { CONTROL_PLANE_NAMES } from './control-plane-names';
import { MEDIA_METRICS, mediaMetric } from './media-container';
import {
  consoleOrigins,
  mediaRoutingEnvironment,
  validateMediaRouting,
  type MediaRegionTarget,
  type MediaRouting,
} from './media-routing';
import { HTTP_FUNCTIONS, type HttpFunctionName } from '../lambdas/routes';
import { CLAIM_PARTITION_PREFIX } from '../core/claims';
import { LIMIT_DEFAULTS } from '../core/limits';
import { COMMAND_PARTITION_PREFIX } from '../core/media-commands';
import { PLACEMENT_PARTITION_PREFIX, SERVERS_PK } from '../core/placement';
import { parseSourceRanges } from '../core/plivo/source-ranges';

export type { MediaRegionTarget } from './media-routing';

/**
 * The media regions, as every media region's stack gets them too. The data table, the keys' aliases and the webhook
 * queue get the fixed names of `CONTROL_PLANE_NAMES`, by which the media stacks reach them from other AWS regions.
 */
export interface ControlPlaneStackProps extends StackProps, MediaRouting {
  /** Custom domain of the REST API; requires `apiCertificateArn`. @default - the edge's, or the execute-api endpoint */
  readonly apiDomainName?: string;
  /** ACM certificate for `apiDomainName`: in us-east-1 with `webAclArn` (CloudFront's), else in this stack's region. @default - none */
  readonly apiCertificateArn?: string;
  /**
   * Puts the whole API behind CloudFront with this CloudFront-scope WAF web ACL (`EdgeFirewall`, in us-east-1): the
   * distribution's URL (or `apiDomainName` on it) becomes the public URL, and every HTTP function refuses a request
   * that did not come through it. The web ACL, not the answer function, then checks `plivoSourceRanges`.
   * @default - no edge: clients call the API Gateway endpoint (or `apiDomainName` on it)
   */
  readonly webAclArn?: string;
  /**
   * REST API requests per second each tenant may make, counted across all API function instances in the data table
   * (`TENANT_RATE_LIMIT`); beyond it a tenant gets 429 with `Retry-After`. 0 turns the per-tenant limit off (each
   * route's own throttle, `HTTP_FUNCTIONS`, applies either way).
   * @default 50 (`LIMIT_DEFAULTS.tenantRateLimit`)
   */
  readonly tenantRateLimit?: number;
  /**
   * Plivo's published source ranges (CIDRs): without `webAclArn`, the Answer URL refuses any other source with 403
   * before it reads anything (`PLIVO_SOURCE_RANGES`); API Gateway's route throttle still counts those requests. With
   * `webAclArn` the function would only see CloudFront's addresses, so they are not set here: the web ACL
   * (`EdgeFirewall`'s `plivoSourceRanges`) checks them.
   * @default [] (any source)
   */
  readonly plivoSourceRanges?: readonly string[];
}

/** The only control-table actions the answer handler uses: look up connector, rules and a rule's agent, record and end the call. */
const ANSWER_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'] as const;

/** `DegradedStream` reports of one media region's calls within 5 minutes at or above which its alarm fires. */
const STREAMS_DEGRADED_THRESHOLD = 10;

/** Handlers of the functions no HTTP route reaches. */
const DELIVERY_WORKER_ENTRY = path.join(__dirname, '..', 'lambdas', 'webhooks', 'handler.ts');
const SWEEPER_ENTRY = path.join(__dirname, '..', 'lambdas', 'sweeper', 'handler.ts');

/** The home region's control plane: REST API, Answer URL, data table, keys, webhook delivery and the sweeper. */
export class ControlPlaneStack extends Stack {
  public readonly keys: Keys;
  public readonly dataTable: DataTable;
  public readonly webhookQueue: WebhookQueue;
  /** One function per entry of `HTTP_FUNCTIONS`. */
  public readonly functions: Readonly<Record<HttpFunctionName, ServiceFunction>>;
  public readonly api: ServiceHttpApi;
  /** @default - undefined without `webAclArn` */
  public readonly edge?: ApiEdge;
  /** Base URL of the API for its callers, without a trailing slash: the edge's when there is one. */
  public readonly publicUrl: string;
  public readonly webhookDelivery: WebhookDelivery;
  public readonly sweeper: Sweeper;
  /** One per media region: Plivo keeps reporting that region's streams degraded (the answer function counts them here). */
  public readonly streamsDegradedAlarms: readonly Alarm[];
  public readonly dashboard: ControlPlaneDashboard;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id, props);
    validateMediaRouting(`ControlPlaneStack ${id}`, props);
    const tenantRateLimit = props.tenantRateLimit ?? LIMIT_DEFAULTS.tenantRateLimit;
    if (!Number.isInteger(tenantRateLimit) || tenantRateLimit < 0 || tenantRateLimit > 100_000) {
      throw new Error(
        `ControlPlaneStack ${id}: tenantRateLimit must be a whole number of requests per second, 0-100000 (0: no ` +
          `per-tenant limit); got ${tenantRateLimit}.`,
      );
    }
    let plivoSourceRanges: readonly string[];
    try {
      plivoSourceRanges = parseSourceRanges((props.plivoSourceRanges ?? []).join(','));
    } catch (err) {
      throw new Error(`ControlPlaneStack ${id}: plivoSourceRanges: ${(err as Error).message}.`);
    }

    this.keys = new Keys(this, 'Keys', {
      dataKeyAlias: CONTROL_PLANE_NAMES.dataKeyAlias,
      tableKeyAlias: CONTROL_PLANE_NAMES.tableKeyAlias,
    });
    this.dataTable = new DataTable(this, 'Data', {
      encryptionKey: this.keys.tableKey,
      tableName: CONTROL_PLANE_NAMES.dataTable,
    });
    this.webhookQueue = new WebhookQueue(this, 'Webhooks', { queueName: CONTROL_PLANE_NAMES.webhookQueue });

    // Every function loads the same configuration (core/config.ts loadControlPlaneConfig), so each gets all of it,
    // even the claims tables only the answer function may write.
    for (const region of props.mediaRegions) this.warnWithoutDomain(region);
    const environment: Record<string, string> = { ...mediaRoutingEnvironment(props), LOG_LEVEL: 'info' };

    // Each function's access, typed by HTTP_FUNCTIONS so a new entry there does not compile until it is given one.
    // Tenant API secrets are generated at run time and stored encrypted in the table: none is in this template.
    const access: Record<HttpFunctionName, { description: string; grant: (fn: ServiceFunction) => void }> = {
      api: {
        description:
          'Plivo connector REST API (/v2/connectors, /v2/sip/routing-rule, /v2/agents, /v2/agent/dispatch, /v2/sip/webhooks, /v2/sip/call, ' +
          '/v2/rooms, /v2/sessions, /v2/public)',
        // Publishes the signing key's public half; re-drives dead-lettered deliveries onto the webhook queue; writes
        // switch-room, close-room and dispatch-agent commands into each region's table for its media servers
        // (core/media-commands.ts), reads of a room's placement there (which server to tell) and of the servers' own
        // records (a serving one to place a room an agent is dispatched into): only items whose partition key is a
        // command's, a placement's or the servers', so it can neither forge a claim nor write a placement there.
        grant: (fn) =>
          fn
            .useTable(this.dataTable.table)
            .useKey(this.keys.dataKey)
            .useSigningKey(this.keys.webhookSigningKey, 'publish')
            .useWebhookQueue(this.webhookQueue)
            .useTablesByArn(this.regionTableArns(props.mediaRegions), ['dynamodb:PutItem'], [COMMAND_PARTITION_PREFIX])
            .useTablesByArn(this.regionTableArns(props.mediaRegions), ['dynamodb:GetItem'], [PLACEMENT_PARTITION_PREFIX])
            .useTablesByArn(this.regionTableArns(props.mediaRegions), ['dynamodb:Query'], [SERVERS_PK]),
      },
      answer: {
        description: 'Plivo connector Answer URL (/v2/hooks/plivo/{key}): routes calls and writes their claims',
        // Reads Plivo auth tokens but never seals a secret; writes claims into each region's table (only items whose
        // partition key is a claim's), nothing else there.
        grant: (fn) =>
          fn
            .useTable(this.dataTable.table, ANSWER_TABLE_ACTIONS)
            .useKey(this.keys.dataKey, 'decrypt')
            .useTablesByArn(this.regionTableArns(props.mediaRegions), ['dynamodb:PutItem'], [CLAIM_PARTITION_PREFIX])
            .useWebhookQueue(this.webhookQueue),
      },
    };
    const names = Object.keys(HTTP_FUNCTIONS) as HttpFunctionName[];
    this.functions = Object.fromEntries(
      names.map((name) => {
        const fn = new ServiceFunction(this, `${name.charAt(0).toUpperCase()}${name.slice(1)}Function`, {
          entry: path.join(__dirname, '..', HTTP_FUNCTIONS[name].entry),
          description: access[name].description,
          environment,
        });
        access[name].grant(fn);
        return [name, fn];
      }),
    ) as Record<HttpFunctionName, ServiceFunction>;
    // Each region's recordings: the API signs their download URLs (S3 checks its role's rights when one is used) and
    // deletes them; the answer handler never touches them.
    RecordingsBucket.grantByName(this.functions.api.role, props.mediaRegions, 'read');
    // Only the REST API counts tenants' requests; Plivo, not the tenant, calls the Answer URL.
    this.functions.api.function.addEnvironment('TENANT_RATE_LIMIT', String(tenantRateLimit));
    // Behind the edge the function sees CloudFront's address, never Plivo's: the web ACL checks the ranges there.
    if (plivoSourceRanges.length && props.webAclArn === undefined) {
      this.functions.answer.function.addEnvironment('PLIVO_SOURCE_RANGES', plivoSourceRanges.join(','));
    }

    // The delivery worker is the only function that may sign with the webhook key; it decrypts each webhook's Standard
    // Webhooks secret but never seals one. The sweeper opens no stored secret: it is told the secrets key, which the
    // shared configuration requires, but may not use it.
    this.webhookDelivery = new WebhookDelivery(this, 'WebhookDelivery', {
      queue: this.webhookQueue,
      entry: DELIVERY_WORKER_ENTRY,
      environment,
    });
    this.webhookDelivery.worker
      .useTable(this.dataTable.table)
      .useKey(this.keys.dataKey, 'decrypt')
      .useSigningKey(this.keys.webhookSigningKey, 'sign');
    this.sweeper = new Sweeper(this, 'Sweeper', { entry: SWEEPER_ENTRY, environment });
    // The sweeper also reads each region's media-server records and forgets dead servers once their calls are closed.
    this.sweeper.worker
      .useTable(this.dataTable.table)
      .useKey(this.keys.dataKey, 'none')
      .useWebhookQueue(this.webhookQueue)
      .useTablesByArn(this.regionTableArns(props.mediaRegions), ['dynamodb:Query', 'dynamodb:DeleteItem']);
    // It assembles the segments a dead media server left into its recordings, as that server would have.
    RecordingsBucket.grantByName(this.sweeper.worker.role, props.mediaRegions, 'write');

    this.api = new ServiceHttpApi(this, 'Api', {
      routes: names.map((name) => ({
        handler: this.functions[name].function,
        routes: HTTP_FUNCTIONS[name].routes,
        throttle: HTTP_FUNCTIONS[name].throttle,
      })),
      ...(props.webAclArn === undefined && { domainName: props.apiDomainName, certificateArn: props.apiCertificateArn }),
      // The web console is served by each media region's own name and calls the API from there: those origins only.
      corsAllowOrigins: consoleOrigins(props.mediaRegions),
    });
    if (props.webAclArn !== undefined) {
      this.edge = new ApiEdge(this, 'Edge', {
        api: this.api,
        webAclArn: props.webAclArn,
        domainName: props.apiDomainName,
        certificateArn: props.apiCertificateArn,
      });
      for (const name of names) this.edge.requireEdge(this.functions[name].function);
    }
    this.publicUrl = this.edge?.url ?? this.api.url;
    // No cycle: a function refers to the API's id (or the distribution's), while only the integrations and
    // permissions refer to the functions.
    for (const fn of this.allFunctions) fn.function.addEnvironment('PUBLIC_URL', this.publicUrl);

    Validations.of(this.api.httpApi).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Routes authenticate in their handler: /v2 calls carry a per-tenant HS256 JWT checked against that ' +
        "tenant's secret, which lives encrypted in the table where no API Gateway authorizer can see it; the Plivo " +
        "Answer URL is authenticated by its secret webhook key and Plivo's request signature.",
    });

    this.streamsDegradedAlarms = props.mediaRegions.map(
      (region) =>
        new Alarm(this, `StreamsDegradedAlarm-${region.id}`, {
          alarmDescription:
            `Plivo reported ${STREAMS_DEGRADED_THRESHOLD} or more streams of media region ${region.id} degraded within ` +
            "5 minutes: the region's tasks read those calls' audio too slowly. See its dashboard: LateTicks and CPU " +
            '(tasks short of CPU: lower callsPerTask or cpuTargetPercent), DroppedFramesOut, unhealthy tasks.',
          metric: mediaMetric(region.id, MEDIA_METRICS.streamsDegraded, { statistic: 'Sum', period: Duration.minutes(5) }),
          threshold: STREAMS_DEGRADED_THRESHOLD,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          // Emitted only when Plivo reports one: no datapoints is the healthy case.
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
    );
    this.dashboard = new ControlPlaneDashboard(this, 'Dashboard', {
      answer: this.functions.answer,
      api: this.functions.api,
      httpApi: this.api,
      webhookQueue: this.webhookQueue,
      sweeper: this.sweeper,
      mediaRegionIds: props.mediaRegions.map((region) => region.id),
      alarms: this.alarms,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.publicUrl, description: 'Base URL of the REST API and the Answer URL' });
    new CfnOutput(this, 'TableName', { value: this.dataTable.table.tableName });
    new CfnOutput(this, 'WebhookQueueUrl', { value: this.webhookQueue.queue.queueUrl });
    new CfnOutput(this, 'AlarmNames', {
      value: Fn.join(',', this.alarms.map((alarm) => alarm.alarmName)),
      description: 'CloudWatch alarms of webhook delivery, the sweeper and degraded streams; none has an action, subscribe to them',
    });
    const domainTarget = this.edge?.distribution.distributionDomainName ?? this.api.domainName?.regionalDomainName;
    if (props.apiDomainName !== undefined && domainTarget !== undefined) {
      new CfnOutput(this, 'ApiDomainTarget', {
        value: domainTarget,
        description: `Point a CNAME (or alias) record for ${props.apiDomainName} at this name`,
      });
    }
  }

  public get apiFunction(): ServiceFunction {
    return this.functions.api;
  }

  public get answerFunction(): ServiceFunction {
    return this.functions.answer;
  }

  /** The HTTP functions, the delivery worker and the sweeper. */
  public get allFunctions(): readonly ServiceFunction[] {
    return [...Object.values(this.functions), this.webhookDelivery.worker, this.sweeper.worker];
  }

  /**
   * Webhook delivery's alarms, the sweeper's and each media region's degraded streams; named in the `AlarmNames`
   * output, none has an action.
   */
  public get alarms(): readonly Alarm[] {
    return [...this.webhookDelivery.alarms, this.sweeper.errorsAlarm, ...this.streamsDegradedAlarms];
  }

  /** Calls placed in a region without a public name cannot stream: say so at synth (see `ingestUrlOf`). */
  private warnWithoutDomain(region: MediaRegionTarget): void {
    if (region.domainName !== undefined) return;
    Annotations.of(this).addWarningV2(
      'plivo-connector:ingest-url',
      `Media region ${region.id} has no domainName: calls placed in ${region.id} cannot stream until ` +
        `"mediaRegions.${region.id}.domainName" (and certificateArn) is configured.`,
    );
  }

  private regionTableArns(regions: readonly MediaRegionTarget[]): string[] {
    return regions.map((region) =>
      this.formatArn({
        service: 'dynamodb',
        region: region.awsRegion,
        resource: 'table',
        resourceName: region.claimsTableName,
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      }),
    );
  }
}
