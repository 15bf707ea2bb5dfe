import { Aws, Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { RecordingsBucket, type RecordingsBucketProps } from '../../lib/constructs/recordings-bucket';
import type { MediaRegionTarget } from '../../lib/media-routing';
import { testStack } from './helpers';

interface Built {
  stack: Stack;
  recordings: RecordingsBucket;
  logs: Bucket;
  role: Role;
  template: Template;
}

/** in002's bucket, with a log bucket like the load balancer's and a task-like role granted `write`. */
function build(props: Partial<RecordingsBucketProps> = {}, account?: string): Built {
  const stack = testStack({ env: { region: 'ap-south-1', ...(account && { account }) } });
  const logs = new Bucket(stack, 'Logs', { encryption: BucketEncryption.S3_MANAGED, enforceSSL: true });
  const recordings = new RecordingsBucket(stack, 'Recordings', { regionId: 'in002', accessLogsBucket: logs, ...props });
  const role = new Role(stack, 'TaskRole', { assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com') });
  recordings.grantWrite(role);
  return { stack, recordings, logs, role, template: Template.fromStack(stack) };
}
const idOf = (stack: Stack, construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);

interface Statement {
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}
function statementsOf(template: Template, stack: Stack, role: Role): Statement[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: idOf(stack, role) }] } })) as {
    Properties: { PolicyDocument: { Statement: Statement[] } };
  }[];
  expect(policies).toHaveLength(1);
  return policies[0]!.Properties.PolicyDocument.Statement;
}

describe('name', () => {
  test('plivo-connector-recordings-<regionId>-<account>: global names need the account', () => {
    expect(RecordingsBucket.bucketNameFor('us002', '123456789012')).toBe('plivo-connector-recordings-us002-123456789012');
    const { recordings, template } = build({}, '123456789012');
    expect(recordings.bucketName).toBe('plivo-connector-recordings-in002-123456789012');
    template.hasResourceProperties('AWS::S3::Bucket', { BucketName: 'plivo-connector-recordings-in002-123456789012' });
  });

  test("without a known account, the stack's AWS::AccountId, exactly as bucketNameFor(id, Aws.ACCOUNT_ID) names it", () => {
    const { recordings, template } = build();
    expect(recordings.bucketName).toBe(RecordingsBucket.bucketNameFor('in002', Aws.ACCOUNT_ID));
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: { 'Fn::Join': ['', ['plivo-connector-recordings-in002-', { Ref: 'AWS::AccountId' }]] },
    });
  });
});

describe('protection', () => {
  test("is encrypted with its own customer managed key (rotated, aliased per region), with S3 Bucket Keys", () => {
    const { stack, recordings, template } = build();
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/plivo-connector-recordings-in002',
      TargetKeyId: { 'Fn::GetAtt': [idOf(stack, recordings.key), 'Arn'] },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [idOf(stack, recordings.key), 'Arn'] } },
            BucketKeyEnabled: true,
          },
        ],
      },
    });
  });

  test('blocks all public access, owns its objects (no ACLs), is unversioned', () => {
    build().template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: Match.anyValue(),
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      VersioningConfiguration: Match.absent(),
    });
  });

  test('refuses any request without TLS', () => {
    const { stack, recordings, template } = build();
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: idOf(stack, recordings.bucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('bucket and key are retained when the stack is deleted: they hold tenants\' recordings', () => {
    const { template } = build();
    template.hasResource('AWS::S3::Bucket', { Properties: { BucketName: Match.anyValue() }, DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('lifecycle', () => {
  test('recordings expire after 90 days by default; incomplete uploads are aborted after a day', () => {
    build().template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [{ Id: 'recording-retention', Status: 'Enabled', ExpirationInDays: 90, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }],
      },
    });
  });

  test('takes retentionDays', () => {
    build({ retentionDays: 7 }).template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 7 })] },
    });
  });

  test.each([0, 3651, 1.5])('rejects retentionDays %p', (retentionDays) => {
    expect(() => build({ retentionDays })).toThrow(/retentionDays must be a whole number of days from 1 to 3650/);
  });
});

test('server access logs go to the given bucket under recordings/, which S3 log delivery may write there', () => {
  const { stack, logs, template } = build();
  template.hasResourceProperties('AWS::S3::Bucket', {
    LoggingConfiguration: { DestinationBucketName: { Ref: idOf(stack, logs) }, LogFilePrefix: 'recordings/' },
  });
  template.hasResourceProperties('AWS::S3::BucketPolicy', {
    Bucket: { Ref: idOf(stack, logs) },
    PolicyDocument: {
      Statement: Match.arrayWith([Match.objectLike({ Action: 's3:PutObject', Principal: { Service: 'logging.s3.amazonaws.com' } })]),
    },
  });
});

test('refuses a log bucket under a KMS key, where S3 cannot deliver access logs', () => {
  const stack = testStack();
  const logs = new Bucket(stack, 'Logs', { encryptionKey: new Key(stack, 'LogKey') });
  expect(() => new RecordingsBucket(stack, 'Recordings', { regionId: 'in002', accessLogsBucket: logs })).toThrow(/server access logs need a target bucket with SSE-S3/);
});

test.each(['IN002', 'in2', ''])('rejects the region id %p', (regionId) => {
  expect(() => build({ regionId })).toThrow(/regionId must be two lowercase letters and three digits/);
});

const viaS3 = (awsRegion: string) => ({ 'Fn::Join': ['', [`s3.${awsRegion}.`, { Ref: 'AWS::URLSuffix' }]] });
const WRITE_OBJECTS = ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:PutObject'];

test('grantWrite: objects read, written, deleted and multipart-cleaned, the bucket listed, the key used through S3 only', () => {
  const { stack, recordings, role, template } = build();
  expect(statementsOf(template, stack, role)).toEqual([
    { Effect: 'Allow', Action: WRITE_OBJECTS, Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [idOf(stack, recordings.bucket), 'Arn'] }, '/*']] } },
    { Effect: 'Allow', Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': [idOf(stack, recordings.bucket), 'Arn'] } },
    {
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: { 'Fn::GetAtt': [idOf(stack, recordings.key), 'Arn'] },
      Condition: { StringEquals: { 'kms:ViaService': viaS3('ap-south-1') } },
    },
  ]);
});

describe('grantByName (the control plane, in another region)', () => {
  const REGIONS: MediaRegionTarget[] = [
    { id: 'us002', awsRegion: 'us-east-1', claimsTableName: 'plivo-connector-us002-media', recordingsBucketName: 'plivo-connector-recordings-us002-123456789012' },
    { id: 'in002', awsRegion: 'ap-south-1', claimsTableName: 'plivo-connector-in002-media', recordingsBucketName: 'plivo-connector-recordings-in002-123456789012' },
  ];
  function granted(access: 'read' | 'write'): Statement[] {
    const stack = testStack({ env: { region: 'us-east-1' } });
    const role = new Role(stack, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    RecordingsBucket.grantByName(role, REGIONS, access);
    return statementsOf(Template.fromStack(stack), stack, role);
  }
  const buckets = (suffix: string) => expect.arrayContaining(REGIONS.map((region) => `arn:aws:s3:::${region.recordingsBucketName}${suffix}`));
  const keyOf = (id: string, awsRegion: string, actions: string | string[]) => ({
    Effect: 'Allow',
    Action: actions,
    Resource: { 'Fn::Join': ['', [`arn:aws:kms:${awsRegion}:`, { Ref: 'AWS::AccountId' }, ':key/*']] },
    Condition: {
      'ForAnyValue:StringEquals': { 'kms:ResourceAliases': [`alias/plivo-connector-recordings-${id}`] },
      StringEquals: { 'kms:ViaService': viaS3(awsRegion) },
    },
  });

  test("read (the API): get and delete each region's objects, decrypt with its key through S3; no listing, no writing", () => {
    const statements = granted('read');
    expect(statements).toEqual([
      { Effect: 'Allow', Action: ['s3:DeleteObject', 's3:GetObject'], Resource: buckets('/*') },
      keyOf('us002', 'us-east-1', 'kms:Decrypt'),
      keyOf('in002', 'ap-south-1', 'kms:Decrypt'),
    ]);
    expect(statements[0]!.Resource).toHaveLength(2);
  });

  test('write (the sweeper): what a media task may do, on every region', () => {
    const statements = granted('write');
    expect(statements).toEqual([
      { Effect: 'Allow', Action: WRITE_OBJECTS, Resource: buckets('/*') },
      { Effect: 'Allow', Action: 's3:ListBucket', Resource: buckets('') },
      keyOf('us002', 'us-east-1', ['kms:Decrypt', 'kms:GenerateDataKey']),
      keyOf('in002', 'ap-south-1', ['kms:Decrypt', 'kms:GenerateDataKey']),
    ]);
    expect(statements[1]!.Resource).toHaveLength(2);
  });

  test('refuses an empty list of regions', () => {
    const stack = testStack();
    const role = new Role(stack, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    expect(() => RecordingsBucket.grantByName(role, [], 'read')).toThrow(/no media region/);
  });
});

test('cdk-nag AwsSolutions: nothing unacknowledged (bucket, key, grants)', () => {
  const { stack } = build();
  const findings = new AwsSolutionsChecks()
    .validateScope(stack)
    .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`))
    // The stand-in log bucket is the load balancer's in the real stack, where its own findings are acknowledged.
    .filter((finding) => !finding.includes('/Logs'));
  expect(findings).toEqual([]);
});
