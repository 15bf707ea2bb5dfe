import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  IpAddresses,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface MediaNetworkProps {
  /**
   * NAT gateways, 1 or 2. Tasks reach AWS APIs (the home region's table, KMS key and queue, ECR, CloudWatch Logs) and
   * AI agents' WebSocket URLs through them. Two, one per AZ, so losing an AZ does not cut the other AZ's tasks off;
   * one halves their fixed cost for a test deployment.
   * @default 2
   */
  readonly natGateways?: number;
  /** Retention of the VPC flow logs. @default RetentionDays.ONE_MONTH */
  readonly flowLogRetention?: RetentionDays;
}

/**
 * A media region's network: a VPC over two availability zones, public subnets for the load balancer and NAT
 * gateways, private subnets with egress for the media tasks, a DynamoDB gateway endpoint (free, and it keeps the
 * region table's claim and placement traffic off the NAT gateways), and flow logs of all traffic.
 *
 * No interface endpoints: each costs per AZ and hour whether used or not, while the tasks' AWS API traffic besides
 * their own region's table (image pulls, logs, the home region's services) is light or crosses regions anyway.
 */
export class MediaNetwork extends Construct {
  public readonly vpc: Vpc;
  /** Where the VPC's flow logs go. */
  public readonly flowLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: MediaNetworkProps = {}) {
    super(scope, id);
    const natGateways = props.natGateways ?? 2;
    if (natGateways !== 1 && natGateways !== 2) {
      throw new Error(`MediaNetwork ${id}: natGateways must be 1 or 2 (one per availability zone), got ${natGateways}.`);
    }

    this.flowLogGroup = new LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention ?? RetentionDays.ONE_MONTH,
    });
    this.vpc = new Vpc(this, 'Vpc', {
      ipAddresses: IpAddresses.cidr('10.0.0.0/16'),
      // Two AZs: the service keeps at least one task in each, and the load balancer spans both.
      maxAzs: 2,
      natGateways,
      subnetConfiguration: [
        // Nothing launched here needs an address of its own: the NAT gateways and the load balancer bring theirs.
        { name: 'Public', subnetType: SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'Tasks', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      gatewayEndpoints: { DynamoDb: { service: GatewayVpcEndpointAwsService.DYNAMODB } },
      flowLogs: {
        All: {
          destination: FlowLogDestination.toCloudWatchLogs(this.flowLogGroup),
          trafficType: FlowLogTrafficType.ALL,
        },
      },
    });
  }
}
