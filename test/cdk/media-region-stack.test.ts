import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { ContainerImage } from 'aws-cdk-lib/aws-ecs';
import { Aws, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { RecordingsBucket } from '../../lib/constructs/recordings-bucket';
import { MediaRegionStack, mediaRegionStackName, type MediaRegionStackProps } from '../../lib/media-region-stack';
import type { MediaRouting } from '../../lib/media-routing';
import { capturingReport, testApp } from './helpers';

const CERTIFICATE_ARN = 'arn:aws:acm:ap-south-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
const routingWith = (inDomain?: string): MediaRouting => ({
  mediaRegions: [
    { id: 'us002', awsRegion: 'us-east-1', claimsTableName: 'plivo-connector-us002-media', recordingsBucketName: RecordingsBucket.bucketNameFor('us002', Aws.ACCOUNT_ID) },
    { id: 'in002', awsRegion: 'ap-south-1', claimsTableName: 'plivo-connector-in002-media', recordingsBucketName: RecordingsBucket.bucketNameFor('in002', Aws.ACCOUNT_ID), domainName: inDomain },
  ],
  homeMediaRegionId: 'us002',
  countryRegions: { IN: 'in002' },
});

/** in002's stack with a registry image (staging the real one is tested with the service and the app). */
function build(props: Partial<MediaRegionStackProps> = {}): { stack: MediaRegionStack; template: Template } {
  const stack = new MediaRegionStack(testApp(), mediaRegionStackName('in002'), {
    env: { region: 'ap-south-1' },
    regionId: 'in002',
    routing: routingWith(),
    controlPlaneAwsRegion: 'us-east-1',
    image: ContainerImage.fromRegistry('public.ecr.aws/example/plivo-connector-media:test'),
    ...props,
  });
  // Without a certificate synth prints a warning report; these tests read annotations instead.
  const { result: template } = capturingReport(() => Template.fromStack(stack));
  return { stack, template };
}
const withTls = { routing: routingWith('media-in.example.com'), certificateArn: CERTIFICATE_ARN };
const idOf = (stack: MediaRegionStack, construct: IConstruct) =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);

test('is named after its region and lives in its AWS region', () => {
  const { stack } = build();
  expect(stack.stackName).toBe('PlivoConnector-Media-in002');
  expect(stack.region).toBe('ap-south-1');
});

test('holds the region table, one VPC, one load balancer, one ECS service and its dashboard', () => {
  const { template } = build();
  template.resourceCountIs('AWS::DynamoDB::Table', 1);
  template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'plivo-connector-in002-media' });
  template.resourceCountIs('AWS::EC2::VPC', 1);
  template.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 1);
  template.resourceCountIs('AWS::ECS::Cluster', 1);
  template.resourceCountIs('AWS::ECS::Service', 1);
  template.resourceCountIs('AWS::CloudWatch::Alarm', 7);
  template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
});

test("the service's task role may use this region's table, write its recordings and use their key through S3", () => {
  const { stack, template } = build();
  template.hasResourceProperties('AWS::IAM::Policy', {
    Roles: [{ Ref: idOf(stack, stack.mediaService.taskDefinition.taskRole) }],
    PolicyDocument: {
      Statement: Match.arrayWith([
        Match.objectLike({
          Action: Match.arrayWith(['dynamodb:DeleteItem']),
          Resource: { 'Fn::GetAtt': [idOf(stack, stack.regionTable.table), 'Arn'] },
        }),
        Match.objectLike({
          Action: Match.arrayWith(['s3:AbortMultipartUpload', 's3:PutObject']),
          Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [idOf(stack, stack.recordings.bucket), 'Arn'] }, '/*']] },
        }),
        Match.objectLike({
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: { 'Fn::GetAtt': [idOf(stack, stack.recordings.key), 'Arn'] },
          Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['s3.ap-south-1.', { Ref: 'AWS::URLSuffix' }]] } } },
        }),
      ]),
    },
  });
});

describe('recordings', () => {
  test("holds the region's recordings bucket, named as the routing names it, logging to the load balancer's log bucket", () => {
    const { stack, template } = build({ recordingRetentionDays: 30 });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: { 'Fn::Join': ['', ['plivo-connector-recordings-in002-', { Ref: 'AWS::AccountId' }]] },
      LoggingConfiguration: { DestinationBucketName: { Ref: idOf(stack, stack.loadBalancer.accessLogBucket) }, LogFilePrefix: 'recordings/' },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 30 })] },
    });
    template.hasOutput('RecordingsBucketName', { Value: { Ref: idOf(stack, stack.recordings.bucket) } });
  });

  test('refuses a routing that names another bucket for this region', () => {
    const routing = routingWith();
    const wrong = { ...routing, mediaRegions: routing.mediaRegions.map((r) => ({ ...r, recordingsBucketName: `recordings-${r.id}` })) };
    expect(() => build({ routing: wrong })).toThrow(/names in002's recordings bucket "recordings-in002", but this stack's is .*RecordingsBucket.bucketNameFor/);
  });
});

test('takes scaling settings', () => {
  build({ scaling: { maxTasks: 7, callsPerTask: 150 } }).template.hasResourceProperties(
    'AWS::ApplicationAutoScaling::ScalableTarget',
    { MinCapacity: 2, MaxCapacity: 7 },
  );
});

describe('outputs', () => {
  test('the table name, the alarm names, and without a certificate a ws:// URL on the load balancer', () => {
    const { stack, template } = build();
    const lbId = idOf(stack, stack.loadBalancer.loadBalancer);
    template.hasOutput('TableName', { Value: 'plivo-connector-in002-media' });
    template.hasOutput('IngestUrl', { Value: { 'Fn::Join': ['', ['ws://', { 'Fn::GetAtt': [lbId, 'DNSName'] }]] } });
    template.hasOutput('LoadBalancerDnsName', {
      Value: { 'Fn::GetAtt': [lbId, 'DNSName'] },
      Description: 'DNS name of the media load balancer',
    });
    expect(stack.alarms).toHaveLength(7);
    template.hasOutput('AlarmNames', {
      Value: { 'Fn::Join': [',', stack.alarms.map((alarm) => ({ Ref: idOf(stack, alarm) }))] },
    });
  });

  test('with a domain and certificate: wss:// on the domain, and where to point its CNAME', () => {
    const { stack, template } = build(withTls);
    template.hasOutput('IngestUrl', { Value: 'wss://media-in.example.com' });
    template.hasOutput('LoadBalancerDnsName', {
      Value: { 'Fn::GetAtt': [idOf(stack, stack.loadBalancer.loadBalancer), 'DNSName'] },
      Description: 'Point a CNAME (or alias) record for media-in.example.com at this name',
    });
  });
});

describe('TLS warning', () => {
  const warning = Match.stringLikeRegexp('Media region in002 has no certificateArn: .* plain ws:// on port 80');

  test('warns at synth without a certificate', () => {
    const { stack } = build();
    const annotations = capturingReport(() => Annotations.fromStack(stack)).result;
    annotations.hasWarning(`/${stack.stackName}`, warning);
  });

  test('is absent with one, and the listener is TLS on 443', () => {
    const { stack, template } = build(withTls);
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'TLS' });
  });
});

describe('invalid props', () => {
  test('rejects a region the routing does not name', () => {
    expect(() => build({ regionId: 'eu001' })).toThrow(/regionId "eu001" is none of the routing's mediaRegions/);
  });

  test("rejects a routing naming another table than this stack's", () => {
    const routing = routingWith();
    const mediaRegions = routing.mediaRegions.map((r) => (r.id === 'in002' ? { ...r, claimsTableName: 'other' } : r));
    expect(() => build({ routing: { ...routing, mediaRegions } })).toThrow(
      /the routing names in002's table "other", but this stack's table is "plivo-connector-in002-media"/,
    );
  });

  test('rejects a certificate without a domain', () => {
    expect(() => build({ certificateArn: CERTIFICATE_ARN })).toThrow(/domainName and certificateArn go together/);
  });
});
