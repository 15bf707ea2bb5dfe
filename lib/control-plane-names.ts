import { ArnFormat, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Physical names of the control plane's resources that the media stacks reach from other AWS regions. A stack in
 * another region cannot import a token (an export, a `Ref`) from the control plane, so both sides compute names, ARNs
 * and URLs from these plain strings instead: the control plane gives its resources these names, and a media stack
 * builds its grants and its container's environment from them (`controlPlaneReferences`).
 *
 * Fixed names mean one connector per account and region, and a retained resource (the data table, the keys' aliases
 * stay with the keys) keeps its name taken after its stack is deleted: re-creating the stack needs it imported or
 * deleted first.
 */
export const CONTROL_PLANE_NAMES = {
  /** The single-table store of tenants, connectors, routing rules, calls and webhook deliveries. */
  dataTable: 'plivo-connector-data',
  /** Alias of the key that seals secrets inside items (Plivo auth tokens, tenant API secrets). */
  dataKeyAlias: 'alias/plivo-connector-data',
  /** Alias of the key that encrypts the data table at rest. */
  tableKeyAlias: 'alias/plivo-connector-table',
  /** Queue of lifecycle events waiting for delivery; its dead-letter queue adds `-dlq`. */
  webhookQueue: 'plivo-connector-webhooks',
} as const;

/** The control plane's resources as another stack (same account, any region) refers to them, by name only. */
export interface ControlPlaneReferences {
  /** AWS region of the control plane, e.g. `us-east-1`: the region of every ARN and URL here. */
  readonly awsRegion: string;
  readonly tableName: string;
  readonly tableArn: string;
  /** Every index of the data table. */
  readonly tableIndexesArn: string;
  /**
   * Every KMS key of the control plane's region and account: a statement on it must narrow it down by alias
   * (`kms:ResourceAliases`), since a key's id is known only once it exists.
   */
  readonly keysArn: string;
  /** Alias of the secrets key, e.g. `alias/plivo-connector-data`. */
  readonly dataKeyAlias: string;
  /** The secrets key's alias ARN: what a container passes as `KMS_KEY_ID`; KMS accepts an alias ARN as a key id. */
  readonly dataKeyAliasArn: string;
  /** Alias of the data table's key, e.g. `alias/plivo-connector-table`. */
  readonly tableKeyAlias: string;
  /** DynamoDB's endpoint name in the control plane's region, for `kms:ViaService` on the table key. */
  readonly dynamoDbServiceName: string;
  readonly webhookQueueUrl: string;
  readonly webhookQueueArn: string;
}

/**
 * The control plane's table, keys and webhook queue in `controlPlaneAwsRegion`, as ARNs and URLs of `scope`'s stack:
 * its account (the same account; `AWS::AccountId` in an environment-agnostic stack) and partition.
 */
export function controlPlaneReferences(scope: IConstruct, controlPlaneAwsRegion: string): ControlPlaneReferences {
  const stack = Stack.of(scope);
  const arn = (service: string, resource: string, resourceName?: string, arnFormat = ArnFormat.SLASH_RESOURCE_NAME) =>
    stack.formatArn({ service, region: controlPlaneAwsRegion, resource, resourceName, arnFormat });
  const tableArn = arn('dynamodb', 'table', CONTROL_PLANE_NAMES.dataTable);
  return {
    awsRegion: controlPlaneAwsRegion,
    tableName: CONTROL_PLANE_NAMES.dataTable,
    tableArn,
    tableIndexesArn: `${tableArn}/index/*`,
    keysArn: arn('kms', 'key', '*'),
    dataKeyAlias: CONTROL_PLANE_NAMES.dataKeyAlias,
    dataKeyAliasArn: arn('kms', CONTROL_PLANE_NAMES.dataKeyAlias),
    tableKeyAlias: CONTROL_PLANE_NAMES.tableKeyAlias,
    dynamoDbServiceName: `dynamodb.${controlPlaneAwsRegion}.${stack.urlSuffix}`,
    webhookQueueUrl: `https://sqs.${controlPlaneAwsRegion}.${stack.urlSuffix}/${stack.account}/${CONTROL_PLANE_NAMES.webhookQueue}`,
    webhookQueueArn: arn('sqs', CONTROL_PLANE_NAMES.webhookQueue, undefined, ArnFormat.NO_RESOURCE_NAME),
  };
}
