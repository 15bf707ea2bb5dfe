import { Duration, Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Vpc } from 'aws-cdk-lib/aws-ec2';
import { MediaLoadBalancer, type MediaLoadBalancerProps } from '../../lib/constructs/media-load-balancer';
import { testStack } from './helpers';

const CERTIFICATE_ARN = 'arn:aws:acm:ap-south-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
const WITH_TLS = { domainName: 'media-in.example.com', certificateArn: CERTIFICATE_ARN };

function build(props: Partial<MediaLoadBalancerProps> = {}): { lb: MediaLoadBalancer; template: Template } {
  const stack = testStack({ env: { region: 'ap-south-1' } });
  const lb = new MediaLoadBalancer(stack, 'LoadBalancer', { vpc: new Vpc(stack, 'Vpc', { maxAzs: 2 }), ...props });
  return { lb, template: Template.fromStack(stack) };
}

const idOf = (lb: MediaLoadBalancer, construct: { node: { defaultChild?: unknown } }) =>
  Stack.of(lb).getLogicalId(construct.node.defaultChild as CfnElement);

describe('load balancer', () => {
  test('is an internet-facing NLB in the public subnets, balancing across zones, with its security group', () => {
    const { lb, template } = build();
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 1);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Type: 'network',
      Scheme: 'internet-facing',
      Subnets: Stack.of(lb).resolve(lb.loadBalancer.vpc!.publicSubnets.map((subnet) => subnet.subnetId)),
      SecurityGroups: [{ 'Fn::GetAtt': [idOf(lb, lb.securityGroup), 'GroupId'] }],
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'load_balancing.cross_zone.enabled', Value: 'true' }]),
    });
  });

  test('writes access logs to its own bucket', () => {
    const { lb, template } = build();
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'access_logs.s3.enabled', Value: 'true' },
        { Key: 'access_logs.s3.bucket', Value: { Ref: idOf(lb, lb.accessLogBucket) } },
      ]),
    });
  });

  test('the access log bucket is private, encrypted, TLS-only, expires logs after 90 days and is retained', () => {
    const { lb, template } = build();
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LifecycleConfiguration: { Rules: [{ ExpirationInDays: 90, Status: 'Enabled' }] },
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: idOf(lb, lb.accessLogBucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('takes another access log retention', () => {
    build({ accessLogRetention: Duration.days(30) }).template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 30, Status: 'Enabled' }] },
    });
  });
});

describe('target group', () => {
  test('targets task IPs over TCP on the public port', () => {
    build().template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetType: 'ip',
      Protocol: 'TCP',
      Port: 8080,
    });
  });

  test('checks GET /health on 8080 every 10 s, 2 checks either way', () => {
    build().template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      HealthCheckProtocol: 'HTTP',
      HealthCheckPort: '8080',
      HealthCheckPath: '/health',
      Matcher: { HttpCode: '200' },
      HealthCheckIntervalSeconds: 10,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
    });
  });

  test("keeps a deregistered task's connections 120 s, longer than the container's 110 s drain", () => {
    build().template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '120' }]),
    });
  });
});

describe('with a certificate', () => {
  test('listens with TLS on 443, with the certificate and a TLS 1.3/1.2 policy, forwarding to the tasks', () => {
    const { lb, template } = build(WITH_TLS);
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'TLS',
      Certificates: [{ CertificateArn: CERTIFICATE_ARN }],
      SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-PQ-2025-09',
      DefaultActions: [{ Type: 'forward', TargetGroupArn: { Ref: idOf(lb, lb.targetGroup) } }],
      // A TLS listener's idle timeout is fixed at 350 s.
      ListenerAttributes: Match.absent(),
    });
  });

  test('opens 443, and only 443, to the internet', () => {
    const { template } = build(WITH_TLS);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('media load balancer'),
      SecurityGroupIngress: [Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' })],
      // Egress is added only towards the tasks, by the service.
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '255.255.255.255/32' })],
    });
  });

  test('its URL is wss:// on the domain', () => {
    const { lb } = build(WITH_TLS);
    expect(lb.tls).toBe(true);
    expect(lb.port).toBe(443);
    expect(lb.url).toBe('wss://media-in.example.com');
  });

  test('refuses a TCP idle timeout, which a TLS listener cannot take', () => {
    expect(() => build({ ...WITH_TLS, tcpIdleTimeout: Duration.minutes(10) })).toThrow(
      /tcpIdleTimeout applies to the plain TCP listener only/,
    );
  });
});

describe('without a certificate', () => {
  test('listens for plain TCP on 80 with a one-hour idle timeout', () => {
    build().template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      Protocol: 'TCP',
      Certificates: Match.absent(),
      ListenerAttributes: [{ Key: 'tcp.idle_timeout.seconds', Value: '3600' }],
    });
  });

  test('takes another idle timeout', () => {
    build({ tcpIdleTimeout: Duration.seconds(6000) }).template.hasResourceProperties(
      'AWS::ElasticLoadBalancingV2::Listener',
      { ListenerAttributes: [{ Key: 'tcp.idle_timeout.seconds', Value: '6000' }] },
    );
  });

  test.each([59, 6001])('rejects an idle timeout of %p s', (seconds) => {
    expect(() => build({ tcpIdleTimeout: Duration.seconds(seconds) })).toThrow(
      /tcpIdleTimeout must be from 60 s to 6000 s/,
    );
  });

  test('opens 80 to the internet', () => {
    build().template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: [Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 80, ToPort: 80 })],
    });
  });

  test("its URL is ws:// on the load balancer's DNS name", () => {
    const { lb } = build();
    expect(lb.tls).toBe(false);
    expect(Stack.of(lb).resolve(lb.url)).toEqual({
      'Fn::Join': ['', ['ws://', { 'Fn::GetAtt': [idOf(lb, lb.loadBalancer), 'DNSName'] }]],
    });
  });
});

test.each([
  ['a domain without certificate', { domainName: 'media-in.example.com' }],
  ['a certificate without domain', { certificateArn: CERTIFICATE_ARN }],
])('rejects %s', (_name, props) => {
  expect(() => build(props)).toThrow(/domainName and certificateArn go together/);
});

test('alarms when a task fails its health checks for 3 minutes', () => {
  const { lb, template } = build();
  template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    Namespace: 'AWS/NetworkELB',
    MetricName: 'UnHealthyHostCount',
    Dimensions: Match.arrayWith([
      { Name: 'TargetGroup', Value: { 'Fn::GetAtt': [idOf(lb, lb.targetGroup), 'TargetGroupFullName'] } },
    ]),
    Statistic: 'Maximum',
    Period: 60,
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    EvaluationPeriods: 3,
    TreatMissingData: 'notBreaching',
    AlarmActions: Match.absent(),
  });
});
