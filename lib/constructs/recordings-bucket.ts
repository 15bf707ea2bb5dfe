import { ArnFormat, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement, type IRole } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { MediaRegionTarget } from '../media-routing';
import { wildcardResourceFinding } from '../nag-findings';
import { checkRegionId } from './region-table';

/** Context `recordingRetentionDays`: how long a recording is kept, in days. */
export const RECORDING_RETENTION_DAYS = { default: 90, min: 1, max: 3650 } as const;

/**
 * What each kind of user of the bucket may do. `write`: the media server writing recordings (segments, then the
 * assembled WAV; multipart for large parts), and the sweeper assembling a dead server's segments; both list a
 * recording's segments. `read`: the API, which signs download URLs with its own role (S3 checks that role's rights when
 * the URL is used) and deletes a recording's object.
 */
const ACCESS = {
  write: {
    objects: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
    bucket: ['s3:ListBucket'],
    // GenerateDataKey to write under the key; Decrypt to read, and to complete a multipart upload.
    key: ['kms:GenerateDataKey', 'kms:Decrypt'],
  },
  read: { objects: ['s3:GetObject', 's3:DeleteObject'], bucket: [], key: ['kms:Decrypt'] },
} as const;
export type RecordingsAccess = keyof typeof ACCESS;

export interface RecordingsBucketProps {
  /** The media region this bucket serves, e.g. `us002`; it names the bucket and the key's alias. */
  readonly regionId: string;
  /**
   * Days after which a recording (and whatever segments of it were never assembled) is deleted.
   * @default 90 (`RECORDING_RETENTION_DAYS`)
   */
  readonly retentionDays?: number;
  /** Where S3 writes the bucket's server access logs (under `recordings/`): a bucket of this region with SSE-S3. */
  readonly accessLogsBucket: IBucket;
}

/**
 * A media region's recordings (issue 20, core/recordings): tenants' call audio, written by the region's media tasks and
 * by the control plane's sweeper, read by the API through presigned GET URLs.
 *
 * - Encrypted with a customer managed key of its own (rotated yearly), with S3 Bucket Keys so a segment upload does
 *   not cost a KMS request; every use of the key goes through S3 (`kms:ViaService`).
 * - No public access, TLS only, objects owned by the bucket owner (no ACLs).
 * - Unversioned: a recording is written once, and `DELETE /v2/recordings/{id}` and the retention rule must really
 *   remove the audio; a noncurrent version would keep what a tenant asked to delete.
 * - One whole-bucket lifecycle rule: objects expire `retentionDays` after they were written, and an upload left
 *   incomplete (a task that died mid-part) is aborted after a day. Segments (`{key}.segments/…`) share their
 *   recording's prefix and are not told apart: normally assembled and deleted within a minute, while the segments of a
 *   recording that could not be assembled are all there is of it, so they are kept as long as a recording is.
 * - Server access logs go to `accessLogsBucket`.
 * - Retained when the stack is deleted: it holds tenants' data; it and its key outlive the stack (README, teardown).
 */
export class RecordingsBucket extends Construct {
  /**
   * `plivo-connector-recordings-<regionId>-<account>`: bucket names are global, so the account is part of it; fixed, so
   * the control plane names it (and grants on it) without a reference across regions. `account` may be the
   * `AWS::AccountId` token (`Aws.ACCOUNT_ID`, as `Stack.account` is in an environment-agnostic stack): every stack of a
   * deployment is in one account, so it resolves alike in each.
   */
  public static bucketNameFor(regionId: string, account: string): string {
    return `plivo-connector-recordings-${regionId}-${account}`;
  }

  /** `alias/plivo-connector-recordings-<regionId>`: how another region's stack names the key in its grants. */
  public static keyAliasFor(regionId: string): string {
    return `alias/plivo-connector-recordings-${regionId}`;
  }

  /**
   * Grants `role` (in another stack, usually another region: the control plane's functions) `access` to each region's
   * bucket and key, known by name alone. The key's id is unknown there, so the key statement names every key of that
   * region and account and narrows it to the bucket key's alias and to S3's use of it.
   */
  public static grantByName(role: IRole, regions: readonly MediaRegionTarget[], access: RecordingsAccess): void {
    if (regions.length === 0) throw new Error(`RecordingsBucket.grantByName: no media region to grant ${role.node.path} on.`);
    const stack = Stack.of(role);
    for (const region of regions) {
      const keysArn = stack.formatArn({ service: 'kms', region: region.awsRegion, resource: 'key', resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
      grant(role, access, {
        bucketArn: stack.formatArn({ service: 's3', region: '', account: '', resource: region.recordingsBucketName }),
        keyArn: keysArn,
        keyConditions: {
          'ForAnyValue:StringEquals': { 'kms:ResourceAliases': [RecordingsBucket.keyAliasFor(region.id)] },
          StringEquals: { 'kms:ViaService': s3ServiceName(stack, region.awsRegion) },
        },
      });
      Validations.of(role).acknowledge({
        id: wildcardResourceFinding(role, keysArn),
        reason:
          "A media region's recordings key lives in that region's stack, so its id is unknown here: the statement on " +
          "key/* is narrowed by kms:ResourceAliases to that region's recordings key alias and by kms:ViaService to S3.",
      });
    }
  }

  public readonly bucket: Bucket;
  public readonly key: Key;
  /** The physical name as `bucketNameFor` builds it for this stack's account (a plain string, or the account token). */
  public readonly bucketName: string;
  public readonly retentionDays: number;

  constructor(scope: Construct, id: string, props: RecordingsBucketProps) {
    super(scope, id);
    checkRegionId(`RecordingsBucket ${id}`, props.regionId);
    this.retentionDays = props.retentionDays ?? RECORDING_RETENTION_DAYS.default;
    const { min, max } = RECORDING_RETENTION_DAYS;
    if (!Number.isInteger(this.retentionDays) || this.retentionDays < min || this.retentionDays > max) {
      throw new Error(`RecordingsBucket ${id}: retentionDays must be a whole number of days from ${min} to ${max}; got ${this.retentionDays}.`);
    }
    if (props.accessLogsBucket.encryptionKey !== undefined) {
      throw new Error(`RecordingsBucket ${id}: S3 server access logs need a target bucket with SSE-S3, not a KMS key.`);
    }

    this.key = new Key(this, 'Key', {
      description: `Plivo connector: encryption at rest of media region ${props.regionId}'s recordings`,
      enableKeyRotation: true,
      alias: RecordingsBucket.keyAliasFor(props.regionId),
      // Losing the key would make every recording unreadable.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.bucketName = RecordingsBucket.bucketNameFor(props.regionId, Stack.of(this).account);
    this.bucket = new Bucket(this, 'Bucket', {
      bucketName: this.bucketName,
      encryption: BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'recordings/',
      lifecycleRules: [
        {
          id: 'recording-retention',
          expiration: Duration.days(this.retentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /**
   * Grants `role` (the media task's, in this stack) `write` access to this bucket and its key, the key only through
   * S3.
   */
  public grantWrite(role: IRole): void {
    const stack = Stack.of(this);
    grant(role, 'write', {
      bucketArn: this.bucket.bucketArn,
      keyArn: this.key.keyArn,
      keyConditions: { StringEquals: { 'kms:ViaService': s3ServiceName(stack, stack.region) } },
    });
  }
}

/** S3's endpoint name in `awsRegion`, for `kms:ViaService`. */
const s3ServiceName = (stack: Stack, awsRegion: string): string => `s3.${awsRegion}.${stack.urlSuffix}`;

/** `access` on one bucket's objects (and the bucket itself where listing is granted) and on its key, as `keyConditions` allow. */
function grant(role: IRole, access: RecordingsAccess, target: { bucketArn: string; keyArn: string; keyConditions: Record<string, Record<string, unknown>> }): void {
  const { objects, bucket, key } = ACCESS[access];
  const objectsArn = `${target.bucketArn}/*`;
  role.addToPrincipalPolicy(new PolicyStatement({ actions: [...objects], resources: [objectsArn] }));
  if (bucket.length > 0) role.addToPrincipalPolicy(new PolicyStatement({ actions: [...bucket], resources: [target.bucketArn] }));
  role.addToPrincipalPolicy(new PolicyStatement({ actions: [...key], resources: [target.keyArn], conditions: target.keyConditions }));
  Validations.of(role).acknowledge({
    id: wildcardResourceFinding(role, objectsArn),
    reason:
      "A recording's key starts with its tenant (`{tenant}/{roomId}/{sessionId}/{id}.wav`) and this role serves every " +
      `tenant: the wildcard covers the objects of one recordings bucket, for ${objects.join(', ')} only.`,
  });
}
