import * as path from 'node:path';
import { Duration, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

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
 * source-mapped stack traces, X-Ray tracing, its own log group with retention and its own least-privilege role.
 * The `useXxx` helpers grant access and set the matching environment variable together, so a handler
 * never sees a resource name it cannot use.
 */
export class ServiceFunction extends Construct {
  public readonly function: NodejsFunction;
  /** Holds no AWS managed policy: only writes to `logGroup`, X-Ray, and what the `useXxx` helpers grant. */
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
      tracing: Tracing.ACTIVE,
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

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level ' +
        'permissions; every other statement of this role names its resources.',
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x on purpose, matching the esbuild target node22: a newer runtime (nodejs24.x drops ' +
        'callback handlers, among others) is adopted as a reviewed change, not by following the latest release.',
    });
  }

  /** Grants read/write on `table` (and its encryption key) and sets `TABLE_NAME`. */
  public useTable(table: ITable): this {
    table.grantReadWriteData(this.function);
    this.function.addEnvironment('TABLE_NAME', table.tableName);
    if (table.encryptionKey !== undefined) {
      for (const action of ['kms:ReEncrypt*', 'kms:GenerateDataKey*']) {
        Validations.of(this.role).acknowledge({
          id: `AwsSolutions-IAM5[Action::${action}]`,
          reason:
            `Table.grantReadWriteData grants ${action} because DynamoDB uses the table's customer managed key on ` +
            "the caller's behalf for encrypted reads and writes; the statement names that one key only.",
        });
      }
    }
    return this;
  }

  /** Grants kms:Encrypt and kms:Decrypt (nothing else) on `key` and sets `KMS_KEY_ID` to its ARN. */
  public useKey(key: IKey): this {
    key.grant(this.function, 'kms:Encrypt', 'kms:Decrypt');
    this.function.addEnvironment('KMS_KEY_ID', key.keyArn);
    return this;
  }
}
