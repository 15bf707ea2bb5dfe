import * as path from 'node:path';
import { Annotations, ArnFormat, CfnOutput, Fn, Stack, Token, Validations, type StackProps } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { DataTable } from './constructs/data-table';
import { Keys } from './constructs/keys';
import { ServiceFunction } from './constructs/service-function';
import { ServiceHttpApi } from './constructs/service-http-api';
import { Sweeper } from './constructs/sweeper';
import { WebhookDelivery } from './constructs/webhook-delivery';
import { WebhookQueue } from './constructs/webhook-queue';
import { API_THROTTLE, HTTP_FUNCTIONS, type HttpFunctionName } from '../lambdas/routes';

/** What the control plane needs to know of a media region; plain strings, so nothing refers across regions. */
export interface MediaRegionTarget {
  /** Our id of the region, e.g. `us002`. */
  readonly id: string;
  /** Its AWS region, e.g. `us-east-1`. */
  readonly awsRegion: string;
  /** Physical name of the region's table, where the answer handler writes call claims. */
  readonly claimsTableName: string;
  /** Public DNS name of the region's ingest. @default - none yet: a placeholder URL and a synth warning */
  readonly domainName?: string;
}

export interface ControlPlaneStackProps extends StackProps {
  /** The media regions calls may be streamed to. */
  readonly mediaRegions: readonly MediaRegionTarget[];
  /** Id of the region for calls neither their connector nor their caller's country places. */
  readonly homeMediaRegionId: string;
  /** ISO 3166 alpha-2 country of the caller -> media region id. @default {} */
  readonly countryRegions?: Readonly<Record<string, string>>;
  /** Custom domain of the REST API; requires `apiCertificateArn`. @default - the execute-api endpoint */
  readonly apiDomainName?: string;
  /** ACM certificate for `apiDomainName`, in this stack's region. @default - none */
  readonly apiCertificateArn?: string;
}

/** The only control-table actions the answer handler uses: look up connector and rules, record and end the call. */
const ANSWER_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'] as const;

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
  public readonly webhookDelivery: WebhookDelivery;
  public readonly sweeper: Sweeper;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id, props);
    const regionIds = props.mediaRegions.map((region) => region.id);
    validateMediaRegions(id, props, regionIds);

    this.keys = new Keys(this, 'Keys');
    this.dataTable = new DataTable(this, 'Data', { encryptionKey: this.keys.tableKey });
    this.webhookQueue = new WebhookQueue(this, 'Webhooks');

    // Every function loads the same configuration (core/config.ts loadControlPlaneConfig), so each gets all of it,
    // even the claims tables only the answer function may write.
    const environment: Record<string, string> = {
      MEDIA_REGIONS: JSON.stringify(
        Object.fromEntries(props.mediaRegions.map((region) => [region.id, this.mediaRegionEnvironment(region)])),
      ),
      HOME_MEDIA_REGION: props.homeMediaRegionId,
      LOG_LEVEL: 'info',
    };
    const countryRegions = Object.entries(props.countryRegions ?? {});
    if (countryRegions.length > 0) {
      environment.COUNTRY_REGIONS = countryRegions.map(([country, region]) => `${country}=${region}`).join(',');
    }

    // Each function's access, typed by HTTP_FUNCTIONS so a new entry there does not compile until it is given one.
    // Tenant API secrets are generated at run time and stored encrypted in the table: none is in this template.
    const access: Record<HttpFunctionName, { description: string; grant: (fn: ServiceFunction) => void }> = {
      api: {
        description:
          'Plivo connector REST API (/v2/connectors, /v2/routing-rules, /v2/webhooks, /v2/calls, /v2/rooms, ' +
          '/v2/public)',
        // Publishes the signing key's public half; re-drives dead-lettered deliveries onto the webhook queue.
        grant: (fn) =>
          fn
            .useTable(this.dataTable.table)
            .useKey(this.keys.dataKey)
            .useSigningKey(this.keys.webhookSigningKey, 'publish')
            .useWebhookQueue(this.webhookQueue),
      },
      answer: {
        description: 'Plivo connector Answer URL (/v2/hooks/plivo/{key}): routes calls and writes their claims',
        // Reads Plivo auth tokens but never seals a secret; writes claims into each region's table, nothing else there.
        grant: (fn) =>
          fn
            .useTable(this.dataTable.table, ANSWER_TABLE_ACTIONS)
            .useKey(this.keys.dataKey, 'decrypt')
            .usePutItem(props.mediaRegions.map((region) => this.regionTableArn(region)))
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

    // The delivery worker is the only function that may sign with the webhook key. Neither it nor the sweeper opens a
    // stored secret: they are told the secrets key, which the shared configuration requires, but may not use it.
    this.webhookDelivery = new WebhookDelivery(this, 'WebhookDelivery', {
      queue: this.webhookQueue,
      entry: DELIVERY_WORKER_ENTRY,
      environment,
    });
    this.webhookDelivery.worker
      .useTable(this.dataTable.table)
      .useKey(this.keys.dataKey, 'none')
      .useSigningKey(this.keys.webhookSigningKey, 'sign');
    this.sweeper = new Sweeper(this, 'Sweeper', { entry: SWEEPER_ENTRY, environment });
    this.sweeper.worker
      .useTable(this.dataTable.table)
      .useKey(this.keys.dataKey, 'none')
      .useWebhookQueue(this.webhookQueue);

    this.api = new ServiceHttpApi(this, 'Api', {
      routes: names.map((name) => ({ handler: this.functions[name].function, routes: HTTP_FUNCTIONS[name].routes })),
      ...API_THROTTLE,
      domainName: props.apiDomainName,
      certificateArn: props.apiCertificateArn,
    });
    // No cycle: a function refers to the API's id, while only the integrations and permissions refer to the functions.
    for (const fn of this.allFunctions) fn.function.addEnvironment('PUBLIC_URL', this.api.url);

    Validations.of(this.api.httpApi).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Routes authenticate in their handler: /v2 calls carry a per-tenant HS256 JWT checked against that ' +
        "tenant's secret, which lives encrypted in the table where no API Gateway authorizer can see it; the Plivo " +
        "Answer URL is authenticated by its secret webhook key and Plivo's request signature.",
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the REST API' });
    new CfnOutput(this, 'TableName', { value: this.dataTable.table.tableName });
    new CfnOutput(this, 'WebhookQueueUrl', { value: this.webhookQueue.queue.queueUrl });
    new CfnOutput(this, 'AlarmNames', {
      value: Fn.join(',', this.alarms.map((alarm) => alarm.alarmName)),
      description: 'CloudWatch alarms of webhook delivery and the sweeper; none has an action, subscribe to them',
    });
    if (this.api.domainName !== undefined) {
      new CfnOutput(this, 'ApiDomainTarget', {
        value: this.api.domainName.regionalDomainName,
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

  /** Webhook delivery's alarms and the sweeper's; named in the `AlarmNames` output, none has an action. */
  public get alarms(): readonly Alarm[] {
    return [...this.webhookDelivery.alarms, this.sweeper.errorsAlarm];
  }

  /** The region's entry of MEDIA_REGIONS (core/config.ts parseMediaRegions). */
  private mediaRegionEnvironment(region: MediaRegionTarget): Record<'ingestUrl' | 'claimsTable' | 'awsRegion', string> {
    if (region.domainName === undefined) {
      // The region's load balancer arrives with the scale-out issue; until then no public name is known. `.invalid`
      // (RFC 2606) never resolves, so Plivo fails to stream rather than reaching someone else's host.
      Annotations.of(this).addWarningV2(
        'plivo-connector:ingest-url',
        `Media region ${region.id} has no domainName: calls placed in ${region.id} cannot stream until ` +
          `"mediaRegions.${region.id}.domainName" (and certificateArn) is configured.`,
      );
    }
    return {
      ingestUrl: `wss://${region.domainName ?? `ingest-${region.id}.invalid`}`,
      claimsTable: region.claimsTableName,
      awsRegion: region.awsRegion,
    };
  }

  private regionTableArn(region: MediaRegionTarget): string {
    return this.formatArn({
      service: 'dynamodb',
      region: region.awsRegion,
      resource: 'table',
      resourceName: region.claimsTableName,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }
}

function validateMediaRegions(id: string, props: ControlPlaneStackProps, regionIds: readonly string[]): void {
  if (regionIds.length === 0) {
    throw new Error(`ControlPlaneStack ${id}: mediaRegions must name at least one media region.`);
  }
  if (!regionIds.includes(props.homeMediaRegionId)) {
    throw new Error(
      `ControlPlaneStack ${id}: homeMediaRegionId "${props.homeMediaRegionId}" is none of the mediaRegions ` +
        `(${regionIds.join(', ')}).`,
    );
  }
  for (const region of props.mediaRegions) {
    if (Token.isUnresolved(region.claimsTableName)) {
      throw new Error(
        `ControlPlaneStack ${id}: claimsTableName of ${region.id} must be a plain name (RegionTable.tableName), ` +
          'not a token: a reference into another region cannot resolve.',
      );
    }
  }
  for (const [country, regionId] of Object.entries(props.countryRegions ?? {})) {
    if (!regionIds.includes(regionId)) {
      throw new Error(
        `ControlPlaneStack ${id}: countryRegions maps ${country} to "${regionId}", none of the mediaRegions.`,
      );
    }
  }
}
