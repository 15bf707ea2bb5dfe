import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Peer, Port, SecurityGroup, SubnetType, type IVpc } from 'aws-cdk-lib/aws-ec2';
import {
  ListenerCertificate,
  NetworkLoadBalancer,
  NetworkTargetGroup,
  Protocol,
  SslPolicy,
  TargetType,
  type NetworkListener,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { MEDIA_CONTAINER } from '../media-container';

export interface MediaLoadBalancerProps {
  readonly vpc: IVpc;
  /**
   * Public DNS name of the region's ingest, covered by `certificateArn`; requires it. Point a CNAME (or alias) record
   * for it at the load balancer's DNS name. @default - none: a plain TCP listener on port 80, see the class
   */
  readonly domainName?: string;
  /** ACM certificate for `domainName`, in this stack's region. @default - none */
  readonly certificateArn?: string;
  /**
   * Idle timeout of the plain TCP listener (60 s to 6000 s); a call may be quiet for long. A TLS listener's is fixed
   * by AWS at 350 s, so there the container's WebSocket pings keep connections alive.
   * @default Duration.hours(1)
   */
  readonly tcpIdleTimeout?: Duration;
  /** How long the access logs are kept. @default Duration.days(90) */
  readonly accessLogRetention?: Duration;
}

/**
 * The internet-facing Network Load Balancer in front of a media region's tasks: `wss://` for Plivo's audio streams
 * and for room clients, TLS terminated here with the region's ACM certificate (TLS 1.3 and 1.2 only) and forwarded as
 * TCP to the tasks' public port. Its target group checks `GET /health` every 10 s and lets a deregistered task keep
 * its connections for longer than the container's drain, so scale-in and deployments do not cut calls.
 *
 * Without a certificate (a test deployment, or `cdk synth` with cdk.json's defaults) it listens for plain `ws://` on
 * port 80 instead, with a long TCP idle timeout; Plivo will not stream to that, but the Plivo simulator and the
 * console can be tried against it. The stack warns at synth.
 *
 * Plivo publishes no fixed set of source addresses, so the listener is open to the whole internet; the tasks accept
 * only this load balancer's security group. Access logs (written by ELB for TLS connections only) go to a bucket of
 * their own, which the region's recordings bucket also sends its server access logs to (RecordingsBucket).
 */
export class MediaLoadBalancer extends Construct {
  public readonly loadBalancer: NetworkLoadBalancer;
  public readonly securityGroup: SecurityGroup;
  public readonly listener: NetworkListener;
  /** IP targets (Fargate tasks) on the container's public port; the media service registers itself here. */
  public readonly targetGroup: NetworkTargetGroup;
  public readonly accessLogBucket: Bucket;
  /** Whether clients connect with TLS: a certificate was given. */
  public readonly tls: boolean;
  /** 443 with TLS, else 80. */
  public readonly port: number;
  /** `wss://<domainName>` with a certificate, else `ws://<load balancer DNS name>` (a token of this stack). */
  public readonly url: string;
  /** At least one registered task failed its health checks for 3 minutes. */
  public readonly unhealthyHostsAlarm: Alarm;

  constructor(scope: Construct, id: string, props: MediaLoadBalancerProps) {
    super(scope, id);
    if ((props.domainName === undefined) !== (props.certificateArn === undefined)) {
      throw new Error(
        `MediaLoadBalancer ${id}: domainName and certificateArn go together: set both (the certificate must cover ` +
          'the domain) or neither.',
      );
    }
    const tcpIdleTimeout = props.tcpIdleTimeout ?? Duration.hours(1);
    if (props.tcpIdleTimeout !== undefined && props.certificateArn !== undefined) {
      throw new Error(
        `MediaLoadBalancer ${id}: tcpIdleTimeout applies to the plain TCP listener only; a TLS listener's idle ` +
          'timeout is fixed at 350 s. Remove tcpIdleTimeout, or the certificate.',
      );
    }
    if (tcpIdleTimeout.toSeconds() < 60 || tcpIdleTimeout.toSeconds() > 6000) {
      throw new Error(
        `MediaLoadBalancer ${id}: tcpIdleTimeout must be from 60 s to 6000 s, got ${tcpIdleTimeout.toHumanString()}.`,
      );
    }
    this.tls = props.certificateArn !== undefined;
    this.port = this.tls ? 443 : 80;

    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Plivo connector media load balancer: clients from anywhere, out to the media tasks only',
      // Egress to the tasks is added when the service lets this group in.
      allowAllOutbound: false,
    });
    this.securityGroup.addIngressRule(
      Peer.anyIpv4(),
      Port.tcp(this.port),
      this.tls ? 'wss:// from Plivo and room clients' : 'ws:// from anywhere (no certificate configured)',
    );
    Validations.of(this.securityGroup).acknowledge({
      id: 'AwsSolutions-EC23',
      reason:
        'The ingest is public by design: Plivo publishes no fixed set of addresses its audio streams come from, and ' +
        'browsers and AI agents join rooms from anywhere. Only the listener port is open; every stream and room ' +
        'connection is authenticated by the container (single-use claim and Plivo signature, participant token).',
    });

    this.accessLogBucket = new Bucket(this, 'AccessLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: props.accessLogRetention ?? Duration.days(90) }],
      // Kept when the stack goes: they are the record of who connected.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        "This bucket holds only access logs (the load balancer's, and the region's recordings bucket's server access " +
        'logs); logging access to a log bucket would need yet another log bucket. Access to it is recorded by CloudTrail.',
    });

    this.loadBalancer = new NetworkLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      securityGroups: [this.securityGroup],
      // Spread connections over the tasks of both AZs, not per AZ of the client's resolved address.
      crossZoneEnabled: true,
    });
    this.loadBalancer.logAccessLogs(this.accessLogBucket);

    this.targetGroup = new NetworkTargetGroup(this, 'Tasks', {
      vpc: props.vpc,
      targetType: TargetType.IP,
      protocol: Protocol.TCP,
      port: MEDIA_CONTAINER.publicPort,
      // Longer than the container's drain: a deregistered task keeps its connections until it has drained them.
      deregistrationDelay: Duration.seconds(MEDIA_CONTAINER.stopTimeoutSeconds),
      healthCheck: {
        protocol: Protocol.HTTP,
        port: String(MEDIA_CONTAINER.publicPort),
        path: MEDIA_CONTAINER.healthPath,
        healthyHttpCodes: '200',
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
    });

    this.listener = this.loadBalancer.addListener('Listener', {
      port: this.port,
      defaultTargetGroups: [this.targetGroup],
      ...(props.certificateArn !== undefined
        ? {
            protocol: Protocol.TLS,
            certificates: [ListenerCertificate.fromArn(props.certificateArn)],
            sslPolicy: SslPolicy.TLS13_12_PQ,
          }
        : { protocol: Protocol.TCP, tcpIdleTimeout }),
    });

    this.url =
      props.domainName !== undefined ? `wss://${props.domainName}` : `ws://${this.loadBalancer.loadBalancerDnsName}`;

    this.unhealthyHostsAlarm = new Alarm(this, 'UnhealthyHostsAlarm', {
      alarmDescription:
        'A media task has failed its load balancer health checks (GET /health) for 3 minutes: it is hung, crashed ' +
        'or cannot start; ECS replaces it, so this lasting means new tasks fail too.',
      metric: this.targetGroup.metrics.unHealthyHostCount({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      // No datapoints means no targets were reported on, not that one is unhealthy.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }
}
