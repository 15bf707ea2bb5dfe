import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { MediaNetwork, type MediaNetworkProps } from '../../lib/constructs/media-network';
import { testStack } from './helpers';

function build(props?: MediaNetworkProps): { network: MediaNetwork; template: Template } {
  const stack = testStack({ env: { region: 'ap-south-1' } });
  const network = new MediaNetwork(stack, 'Network', props);
  return { network, template: Template.fromStack(stack) };
}

test('spans two availability zones, with a public and a private subnet in each', () => {
  const { network, template } = build();
  expect(network.vpc.availabilityZones).toHaveLength(2);
  expect(network.vpc.publicSubnets).toHaveLength(2);
  expect(network.vpc.privateSubnets).toHaveLength(2);
  expect(network.vpc.isolatedSubnets).toHaveLength(0);
  template.resourceCountIs('AWS::EC2::Subnet', 4);
});

test('public subnets give nothing a public address of its own', () => {
  build().template.resourcePropertiesCountIs('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false }, 4);
});

test('private subnets reach out through a NAT gateway per AZ by default', () => {
  const { template } = build();
  template.resourceCountIs('AWS::EC2::NatGateway', 2);
  template.resourcePropertiesCountIs(
    'AWS::EC2::Route',
    { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: Match.anyValue() },
    2,
  );
});

test('takes one NAT gateway for both AZs', () => {
  const { template } = build({ natGateways: 1 });
  template.resourceCountIs('AWS::EC2::NatGateway', 1);
  template.resourcePropertiesCountIs(
    'AWS::EC2::Route',
    { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: Match.anyValue() },
    2,
  );
});

test.each([0, 3, 1.5])('rejects %p NAT gateways', (natGateways) => {
  expect(() => build({ natGateways })).toThrow(/natGateways must be 1 or 2/);
});

test('has a DynamoDB gateway endpoint on the private subnets, and no interface endpoint', () => {
  const { network, template } = build();
  const privateRouteTables = network.vpc.privateSubnets.map(
    (subnet): unknown => Stack.of(network).resolve(subnet.routeTable.routeTableId),
  );
  template.resourceCountIs('AWS::EC2::VPCEndpoint', 1);
  template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
    ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.dynamodb']] },
    VpcEndpointType: 'Gateway',
    RouteTableIds: Match.arrayWith(privateRouteTables),
  });
});

test('logs all traffic to a log group kept one month by default', () => {
  const { template } = build();
  template.hasResourceProperties('AWS::EC2::FlowLog', {
    ResourceType: 'VPC',
    TrafficType: 'ALL',
    LogDestinationType: 'cloud-watch-logs',
  });
  template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
});

test('takes another flow log retention', () => {
  build({ flowLogRetention: RetentionDays.ONE_WEEK }).template.hasResourceProperties('AWS::Logs::LogGroup', {
    RetentionInDays: 7,
  });
});
