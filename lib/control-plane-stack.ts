import * as path from 'node:path';
import { CfnOutput, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DataTable } from './constructs/data-table';
import { Keys } from './constructs/keys';
import { ServiceFunction } from './constructs/service-function';
import { ServiceHttpApi } from './constructs/service-http-api';
import { WebhookQueue } from './constructs/webhook-queue';
import { API_THROTTLE, HTTP_FUNCTIONS } from '../lambdas/routes';

export interface ControlPlaneStackProps extends StackProps {
  /** Ids of the media regions connectors may be pinned to, e.g. `['us002', 'in002']`. */
  readonly mediaRegionIds: readonly string[];
  /** Custom domain of the REST API; requires `apiCertificateArn`. @default - the execute-api endpoint */
  readonly apiDomainName?: string;
  /** ACM certificate for `apiDomainName`, in this stack's region. @default - none */
  readonly apiCertificateArn?: string;
}

/** The home region's control plane: REST API, data table, keys and the webhook queue. */
export class ControlPlaneStack extends Stack {
  public readonly keys: Keys;
  public readonly dataTable: DataTable;
  public readonly webhookQueue: WebhookQueue;
  public readonly apiFunction: ServiceFunction;
  public readonly api: ServiceHttpApi;

  constructor(scope: Construct, id: string, props: ControlPlaneStackProps) {
    super(scope, id, props);
    if (props.mediaRegionIds.length === 0) {
      throw new Error(`ControlPlaneStack ${id}: mediaRegionIds must name at least one media region, e.g. ['us002'].`);
    }

    this.keys = new Keys(this, 'Keys');
    this.dataTable = new DataTable(this, 'Data', { encryptionKey: this.keys.tableKey });
    this.webhookQueue = new WebhookQueue(this, 'Webhooks');

    // Tenant API secrets are generated at run time and stored encrypted in the table: none is in this template.
    this.apiFunction = new ServiceFunction(this, 'ApiFunction', {
      entry: path.join(__dirname, '..', HTTP_FUNCTIONS.api.entry),
      description: 'Plivo connector REST API (/v2/connectors)',
      environment: { MEDIA_REGIONS: props.mediaRegionIds.join(','), LOG_LEVEL: 'info' },
    })
      .useTable(this.dataTable.table)
      .useKey(this.keys.dataKey);

    this.api = new ServiceHttpApi(this, 'Api', {
      routes: [{ handler: this.apiFunction.function, routes: HTTP_FUNCTIONS.api.routes }],
      ...API_THROTTLE,
      domainName: props.apiDomainName,
      certificateArn: props.apiCertificateArn,
    });
    // No cycle: the function refers to the API's id, while only the integration and permissions refer to the function.
    this.apiFunction.function.addEnvironment('PUBLIC_URL', this.api.url);

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
    if (this.api.domainName !== undefined) {
      new CfnOutput(this, 'ApiDomainTarget', {
        value: this.api.domainName.regionalDomainName,
        description: `Point a CNAME (or alias) record for ${props.apiDomainName} at this name`,
      });
    }
  }
}
