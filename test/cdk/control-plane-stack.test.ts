import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { ControlPlaneStack, type ControlPlaneStackProps } from '../../lib/control-plane-stack';
import { testApp } from './helpers';

const CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';

function build(props: Partial<ControlPlaneStackProps> = {}): { stack: ControlPlaneStack; template: Template } {
  const stack = new ControlPlaneStack(testApp(), 'ControlPlane', { mediaRegionIds: ['us002', 'in002'], ...props });
  return { stack, template: Template.fromStack(stack) };
}

const withDomain = { apiDomainName: 'api.example.com', apiCertificateArn: CERTIFICATE_ARN };

/** The logical id of a construct's CloudFormation resource. */
function logicalId(stack: ControlPlaneStack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

function apiFunctionStatements(template: Template): { Action: string | string[]; Resource: unknown }[] {
  const [policy] = Object.values(template.findResources('AWS::IAM::Policy')) as {
    Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } };
  }[];
  return policy!.Properties.PolicyDocument.Statement;
}

describe('resources', () => {
  test('creates three keys, one table, two queues, one function and one HTTP API', () => {
    const { template } = build();
    template.resourceCountIs('AWS::KMS::Key', 3);
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
  });

  test('encrypts the table with the table key, not the secrets key', () => {
    const { stack, template } = build();
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: Match.objectLike({
        KMSMasterKeyId: { 'Fn::GetAtt': [logicalId(stack, stack.keys.tableKey), 'Arn'] },
      }),
    });
  });

  test('holds no secret: no Secrets Manager secret or SSM parameter', () => {
    const { template } = build();
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.resourceCountIs('AWS::SSM::Parameter', 0);
  });

  test('has no circular references (PUBLIC_URL reads the API id), with or without a custom domain', () => {
    // Template.fromStack refuses a template whose resources depend on each other in a loop.
    expect(() => build()).not.toThrow();
    expect(() => build(withDomain)).not.toThrow();
  });

  test('rejects an empty list of media regions', () => {
    expect(() => build({ mediaRegionIds: [] })).toThrow(/mediaRegionIds must name at least one media region/);
  });
});

describe('API function', () => {
  test('gets exactly the settings it needs, and no secret; PUBLIC_URL is the execute-api endpoint', () => {
    const { stack, template } = build();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.exact({
          NODE_OPTIONS: '--enable-source-maps',
          TABLE_NAME: { Ref: logicalId(stack, stack.dataTable.table) },
          KMS_KEY_ID: { 'Fn::GetAtt': [logicalId(stack, stack.keys.dataKey), 'Arn'] },
          PUBLIC_URL: { 'Fn::GetAtt': [logicalId(stack, stack.api.httpApi), 'ApiEndpoint'] },
          MEDIA_REGIONS: 'us002,in002',
          LOG_LEVEL: 'info',
        }),
      },
    });
  });

  test('PUBLIC_URL is the custom domain when set', () => {
    build(withDomain).template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PUBLIC_URL: 'https://api.example.com' }) },
    });
  });

  test('may use the secrets key for kms:Encrypt and kms:Decrypt only', () => {
    const { stack, template } = build();
    const dataKeyArn = { 'Fn::GetAtt': [logicalId(stack, stack.keys.dataKey), 'Arn'] };
    const onDataKey = apiFunctionStatements(template).filter(
      (s) => JSON.stringify(s.Resource) === JSON.stringify(dataKeyArn),
    );
    expect(onDataKey).toEqual([{ Effect: 'Allow', Action: ['kms:Decrypt', 'kms:Encrypt'], Resource: dataKeyArn }]);
  });

  test('may read and write the table', () => {
    const { stack, template } = build();
    expect(apiFunctionStatements(template)).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining([
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:Query',
        ]),
        Resource: { 'Fn::GetAtt': [logicalId(stack, stack.dataTable.table), 'Arn'] },
      }),
    );
  });

  test('may not touch the signing key or the webhook queues', () => {
    const { stack, template } = build();
    const policy = JSON.stringify(apiFunctionStatements(template));
    expect(policy).not.toContain(logicalId(stack, stack.keys.webhookSigningKey));
    expect(policy).not.toContain('sqs:');
  });

  test('serves ANY /v2/connectors and ANY /v2/connectors/{proxy+}', () => {
    const { template } = build();
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 2);
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'ANY /v2/connectors' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'ANY /v2/connectors/{proxy+}' });
  });
});

describe('outputs', () => {
  test('ApiUrl, TableName and WebhookQueueUrl', () => {
    const { stack, template } = build();
    template.hasOutput('ApiUrl', { Value: { 'Fn::GetAtt': [logicalId(stack, stack.api.httpApi), 'ApiEndpoint'] } });
    template.hasOutput('TableName', { Value: { Ref: logicalId(stack, stack.dataTable.table) } });
    template.hasOutput('WebhookQueueUrl', { Value: { Ref: logicalId(stack, stack.webhookQueue.queue) } });
    expect(template.findOutputs('ApiDomainTarget')).toEqual({});
  });

  test('with a custom domain: ApiUrl on it, and the DNS target for it', () => {
    const { stack, template } = build(withDomain);
    template.hasOutput('ApiUrl', { Value: 'https://api.example.com' });
    template.hasOutput('ApiDomainTarget', {
      Value: { 'Fn::GetAtt': [logicalId(stack, stack.api.domainName!), 'RegionalDomainName'] },
    });
  });
});
