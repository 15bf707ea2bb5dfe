import * as path from 'node:path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { CfnTable, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { WebhookQueue } from './webhook-queue';

/** Item-level DynamoDB actions a function can be narrowed to with `useTable(table, actions)`. */
export type TableItemAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:Query'
  | 'dynamodb:ConditionCheckItem'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem';

const WRITE_ACTIONS: ReadonlySet<TableItemAction> = new Set([
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
]);

export interface ServiceFunctionProps {
  /** Absolute path of the TypeScript handler module, e.g. `path.join(__dirname, '../lambdas/api/handler.ts')`. */
  readonly entry: string;
  /** Name of the exported handler. @default 'handler' */
  readonly handler?: string;
  /** Memory in MB, 128-10240. @default 256 */
  readonly memorySize?: number;
  /** At most 15 minutes. @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** Extra environment variables; `NODE_OPTIONS` is owned by this construct. @default - none */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default - none */
  readonly description?: string;
}

/**
 * The one way we build a Lambda function: Node.js 22 on arm64, bundled by the local esbuild (never Docker),
 * source-mapped stack traces, no X-Ray tracing (see below), its own log group with retention and its own least-privilege role.
 * The `useXxx` helpers grant access and set the matching environment variable together, so a handler
 * never sees a resource name it cannot use (but the one `useKey(key, 'none')` asks for).
 */
export class ServiceFunction extends Construct {
  public readonly function: NodejsFunction;
  /** Holds no AWS managed policy: only writes to `logGroup`, and what the `useXxx` helpers grant. */
  public readonly role: Role;
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    super(scope, id);
    const memorySize = props.memorySize ?? 256;
    const timeout = props.timeout ?? Duration.seconds(10);
    if (!path.isAbsolute(props.entry)) {
      throw new Error(
        `ServiceFunction ${id}: entry must be an absolute path (build it from __dirname), got "${props.entry}".`,
      );
    }
    if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240) {
      throw new Error(
        `ServiceFunction ${id}: memorySize must be an integer number of MB from 128 to 10240, got ${memorySize}.`,
      );
    }
    if (timeout.toSeconds() < 1 || timeout.toSeconds() > 900) {
      throw new Error(
        `ServiceFunction ${id}: timeout must be from 1 second to 15 minutes, got ${timeout.toHumanString()}.`,
      );
    }
    if (props.environment?.NODE_OPTIONS !== undefined) {
      throw new Error(
        `ServiceFunction ${id}: NODE_OPTIONS is set by ServiceFunction (source maps); remove it from environment.`,
      );
    }

    this.role = new Role(this, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention ?? RetentionDays.ONE_MONTH });
    // In place of AWSLambdaBasicExecutionRole, which may write to every log group in the account.
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: props.handler ?? 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize,
      timeout,
      role: this.role,
      logGroup: this.logGroup,
      // Off: nothing records the functions' AWS SDK calls (DynamoDB, KMS, SQS), and the HTTP API passes no trace on,
      // so active tracing showed one bare segment per invocation that Duration and the logs already tell. Recording
      // them (e.g. the Powertools tracer) costs CPU on the Answer URL, to be measured before it is turned on.
      tracing: Tracing.DISABLED,
      environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
      bundling: {
        forceDockerBundling: false,
        minify: true,
        sourceMap: true,
        target: 'node22',
        // Ship the SDK version from our lockfile rather than whichever one the runtime happens to carry.
        bundleAwsSDK: true,
      },
    });

    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x on purpose, matching the esbuild target node22: a newer runtime (nodejs24.x drops ' +
        'callback handlers, among others) is adopted as a reviewed change, not by following the latest release.',
    });
  }

  /**
   * Sets `TABLE_NAME` and grants access to `table`'s items: read/write on the table and its indexes by default,
   * or only `actions` on the base table (none of its indexes) when given. Either way also the use of the table's
   * encryption key that DynamoDB makes on the caller's behalf.
   */
  public useTable(table: ITable, actions?: readonly TableItemAction[]): this {
    const writes = actions === undefined || actions.some((action) => WRITE_ACTIONS.has(action));
    if (actions === undefined) {
      table.grantReadWriteData(this.function);
      const cfnTable = table.node.defaultChild;
      if (cfnTable instanceof CfnTable) {
        Validations.of(this.role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${Stack.of(cfnTable).getLogicalId(cfnTable)}.Arn>/index/*]`,
          reason:
            'Table.grantReadWriteData covers the indexes of this one table (its ARN followed by /index/*), so ' +
            'queries by index work; no other table is reachable through the wildcard.',
        });
      }
    } else {
      if (actions.length === 0) {
        throw new Error(`ServiceFunction ${this.node.id}: useTable needs at least one action, or none for read/write.`);
      }
      this.role.addToPrincipalPolicy(new PolicyStatement({ actions: [...actions], resources: [table.tableArn] }));
      // The key actions Table.grantReadData / grantWriteData would give for the same access.
      table.encryptionKey?.grant(
        this.function,
        'kms:Decrypt',
        'kms:DescribeKey',
        ...(writes ? ['kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*'] : []),
      );
    }
    this.function.addEnvironment('TABLE_NAME', table.tableName);
    if (table.encryptionKey !== undefined && writes) {
      for (const action of ['kms:ReEncrypt*', 'kms:GenerateDataKey*']) {
        Validations.of(this.role).acknowledge({
          id: `AwsSolutions-IAM5[Action::${action}]`,
          reason:
            `Writes to a table under a customer managed key take ${action} (as Table.grantWriteData grants it), ` +
            "because DynamoDB uses that key on the caller's behalf; the statement names that one key only.",
        });
      }
    }
    return this;
  }

  /**
   * Grants kms:Encrypt and kms:Decrypt on `key`, or kms:Decrypt alone for a function that only reads secrets,
   * and sets `KMS_KEY_ID` to its ARN. `none` sets `KMS_KEY_ID` and grants nothing: for entry points that load the
   * shared configuration, which requires the variable, but never seal or open a secret; if one ever tries, KMS
   * refuses it with AccessDenied rather than it quietly reading tenants' secrets.
   */
  public useKey(key: IKey, access: 'encryptDecrypt' | 'decrypt' | 'none' = 'encryptDecrypt'): this {
    if (access !== 'none') {
      key.grant(this.function, ...(access === 'decrypt' ? ['kms:Decrypt'] : ['kms:Encrypt', 'kms:Decrypt']));
    }
    this.function.addEnvironment('KMS_KEY_ID', key.keyArn);
    return this;
  }

  /**
   * Sets `WEBHOOK_SIGNING_KEY_ID` and grants `kms:GetPublicKey` on the webhook signing key (`publish`), or
   * also `kms:Sign` (`sign`: the delivery worker alone).
   */
  public useSigningKey(key: IKey, access: 'publish' | 'sign'): this {
    key.grant(this.function, ...(access === 'sign' ? ['kms:GetPublicKey', 'kms:Sign'] : ['kms:GetPublicKey']));
    this.function.addEnvironment('WEBHOOK_SIGNING_KEY_ID', key.keyArn);
    return this;
  }

  /**
   * Sets `WEBHOOK_QUEUE_URL` and grants sending lifecycle events to the webhook queue (`send`: whatever publishes
   * or re-drives deliveries). `deliver` makes this function the queue's consumer instead: an SQS event source of
   * batches of up to 10 messages without a batching window, reporting failed items one by one (the handler
   * returns `batchItemFailures`), whose grant includes sqs:ChangeMessageVisibility for the handler's own retry
   * delays; plus `WEBHOOK_DLQ_URL` and sending to the dead-letter queue, where the handler moves a delivery after
   * its last attempt. A consumer may not outlive the timeout the queue's visibility timeout was made for.
   */
  public useWebhookQueue(webhooks: WebhookQueue, access: 'send' | 'deliver' = 'send'): this {
    this.function.addEnvironment('WEBHOOK_QUEUE_URL', webhooks.queue.queueUrl);
    if (access === 'send') {
      webhooks.queue.grantSendMessages(this.function);
      return this;
    }
    const timeout = this.function.timeout ?? Duration.seconds(3);
    if (timeout.toSeconds() > webhooks.consumerTimeout.toSeconds()) {
      throw new Error(
        `ServiceFunction ${this.node.id}: a webhook queue consumer may run at most the queue's consumerTimeout ` +
          `(${webhooks.consumerTimeout.toHumanString()}), or messages reappear while a batch is still being ` +
          `delivered; got a timeout of ${timeout.toHumanString()}. Shorten it or raise the queue's consumerTimeout.`,
      );
    }
    this.function.addEventSource(new SqsEventSource(webhooks.queue, { batchSize: 10, reportBatchItemFailures: true }));
    webhooks.deadLetterQueue.grantSendMessages(this.function);
    this.function.addEnvironment('WEBHOOK_DLQ_URL', webhooks.deadLetterQueue.queueUrl);
    return this;
  }

  /**
   * An alarm on the function's Errors metric: at least one failed invocation (thrown, timed out, out of memory)
   * within 5 minutes. No action is attached: subscribe to it by its name.
   */
  public addErrorsAlarm(): Alarm {
    return new Alarm(this, 'ErrorsAlarm', {
      alarmDescription: `${this.node.path}: at least one invocation failed (threw, timed out or ran out of memory).`,
      metric: this.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // No invocations, no datapoints: that is no error.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * Grants `actions`, and nothing else, on tables known only by ARN, such as other regions' tables that no
   * construct of this stack owns. Their names reach the handler through the caller's own environment variable.
   * `partitionKeyPrefixes` narrows them to the items whose partition key starts with one of them (IAM's
   * `dynamodb:LeadingKeys`): a function that writes one kind of item there can write no other.
   */
  public useTablesByArn(tableArns: readonly string[], actions: readonly TableItemAction[], partitionKeyPrefixes?: readonly string[]): this {
    if (tableArns.length === 0) throw new Error(`ServiceFunction ${this.node.id}: useTablesByArn needs table ARNs.`);
    if (actions.length === 0) throw new Error(`ServiceFunction ${this.node.id}: useTablesByArn needs actions.`);
    if (partitionKeyPrefixes?.length === 0) throw new Error(`ServiceFunction ${this.node.id}: useTablesByArn's partitionKeyPrefixes, when given, must name at least one prefix.`);
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [...actions],
        resources: [...tableArns],
        ...(partitionKeyPrefixes && { conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': partitionKeyPrefixes.map((prefix) => `${prefix}*`) } } }),
      }),
    );
    return this;
  }
}
