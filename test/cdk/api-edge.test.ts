import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EdgeFirewall } from '../../lib/constructs/edge-firewall';
import { buildControlPlaneApp } from '../../lib/control-plane-app';
import { EDGE_STACK_NAME } from '../../lib/plivo-connector';
import { ControlPlaneStack } from '../../lib/control-plane-stack';
import { EDGE_REFUSALS, ORIGIN_SECRET_HEADER } from '../../lambdas/edge';
import { testApp, validatedApp } from './helpers';

const CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
const RANGES = ['18.214.109.128/25', '2600:1f18::/32'];

type Rule = { Name: string; Priority: number; Statement: Record<string, unknown>; Action: unknown; VisibilityConfig: unknown };

function firewall(props: ConstructorParameters<typeof EdgeFirewall>[2] = {}, region = 'us-east-1'): Template {
  const stack = new Stack(testApp(), 'Edge', { env: { region } });
  new EdgeFirewall(stack, 'Firewall', props);
  return Template.fromStack(stack);
}

function rulesOf(template: Template): Rule[] {
  const [acl] = Object.values(template.findResources('AWS::WAFv2::WebACL')) as { Properties: { Rules: Rule[] } }[];
  return acl!.Properties.Rules;
}

const HOOKS = {
  ByteMatchStatement: {
    FieldToMatch: { UriPath: {} },
    PositionalConstraint: 'STARTS_WITH',
    SearchString: '/v2/hooks/',
    TextTransformations: [
      { Priority: 0, Type: 'URL_DECODE' },
      { Priority: 1, Type: 'NORMALIZE_PATH' },
    ],
  },
};
const blocked = (key: string) => ({ Block: { CustomResponse: { ResponseCode: 403, CustomResponseBodyKey: key } } });
const perSource = (limit: number, scopeDown: unknown) => ({
  RateBasedStatement: { Limit: limit, AggregateKeyType: 'IP', EvaluationWindowSec: 60, ScopeDownStatement: scopeDown },
});

describe('EdgeFirewall', () => {
  test('without Plivo ranges: a per-source limit on the Answer URL, then one on every other path, each blocking with 403 JSON', () => {
    const template = firewall();
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'CLOUDFRONT',
      DefaultAction: { Allow: {} },
      CustomResponseBodies: {
        rateLimited: { ContentType: 'APPLICATION_JSON', Content: JSON.stringify(EDGE_REFUSALS.rateLimited) },
        sourceRefused: { ContentType: 'APPLICATION_JSON', Content: JSON.stringify(EDGE_REFUSALS.sourceRefused) },
      },
    });
    expect(rulesOf(template)).toEqual([
      {
        Name: 'HooksPerSource',
        Priority: 0,
        Statement: perSource(3000, HOOKS),
        Action: blocked('rateLimited'),
        VisibilityConfig: { CloudWatchMetricsEnabled: true, MetricName: 'HooksPerSource', SampledRequestsEnabled: true },
      },
      {
        Name: 'ApiPerSource',
        Priority: 1,
        Statement: perSource(3000, { NotStatement: { Statement: HOOKS } }),
        Action: blocked('rateLimited'),
        VisibilityConfig: { CloudWatchMetricsEnabled: true, MetricName: 'ApiPerSource', SampledRequestsEnabled: true },
      },
    ]);
    template.resourceCountIs('AWS::WAFv2::IPSet', 0);
  });

  test("with Plivo's ranges: one IP set per address family, and the Answer URL refuses every source outside them", () => {
    const template = firewall({ plivoSourceRanges: RANGES, rateLimits: { hooks: 600, api: 1200 } });
    const sets = template.findResources('AWS::WAFv2::IPSet');
    expect(Object.values(sets).map((set) => (set as { Properties: unknown }).Properties)).toEqual([
      { Scope: 'CLOUDFRONT', IPAddressVersion: 'IPV4', Addresses: ['18.214.109.128/25'] },
      { Scope: 'CLOUDFRONT', IPAddressVersion: 'IPV6', Addresses: ['2600:1f18::/32'] },
    ]);
    const [v4, v6] = Object.keys(sets);
    expect(rulesOf(template)).toEqual([
      expect.objectContaining({
        Name: 'HooksFromPlivoOnly',
        Priority: 0,
        Statement: {
          AndStatement: {
            Statements: [
              HOOKS,
              {
                NotStatement: {
                  Statement: {
                    OrStatement: {
                      Statements: [
                        { IPSetReferenceStatement: { Arn: { 'Fn::GetAtt': [v4, 'Arn'] } } },
                        { IPSetReferenceStatement: { Arn: { 'Fn::GetAtt': [v6, 'Arn'] } } },
                      ],
                    },
                  },
                },
              },
            ],
          },
        },
        Action: blocked('sourceRefused'),
      }),
      expect.objectContaining({ Name: 'ApiPerSource', Priority: 1, Statement: perSource(1200, { NotStatement: { Statement: HOOKS } }) }),
    ]);
  });

  test('logs blocked requests only, to an aws-waf-logs- group', () => {
    const template = firewall();
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: 'aws-waf-logs-plivo-connector', RetentionInDays: 30 });
    template.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      ResourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('WebAcl'), 'Arn'] },
      // The group's ARN without the `:*` that WAF refuses.
      LogDestinationConfigs: [
        {
          'Fn::Join': [
            '',
            ['arn:aws:logs:us-east-1:', { Ref: 'AWS::AccountId' }, ':log-group:', { Ref: Match.stringLikeRegexp('FirewallLogs') }],
          ],
        },
      ],
      LoggingFilter: {
        DefaultBehavior: 'DROP',
        Filters: [{ Behavior: 'KEEP', Requirement: 'MEETS_ANY', Conditions: [{ ActionCondition: { Action: 'BLOCK' } }] }],
      },
    });
  });

  test.each([
    ['outside us-east-1', {}, 'eu-west-1', /must be created in us-east-1; this stack is in eu-west-1/],
    ['a limit under WAF\'s minimum', { rateLimits: { hooks: 5, api: 3000 } }, 'us-east-1', /rateLimits.hooks must be a whole number from 10/],
    ['a log group WAF cannot log to', { logGroupName: 'edge-logs' }, 'us-east-1', /logGroupName must start with "aws-waf-logs-"/],
  ])('refuses %s', (_name, props, region, message) => {
    expect(() => firewall(props, region)).toThrow(message);
  });
});

type Fn = { Properties: { Description?: string; Environment: { Variables: Record<string, unknown> } } };

function functions(template: Template): { description: string; variables: Record<string, unknown> }[] {
  return (Object.values(template.findResources('AWS::Lambda::Function')) as Fn[])
    .filter((fn) => fn.Properties.Description?.startsWith('Plivo connector'))
    .map((fn) => ({ description: fn.Properties.Description ?? '', variables: fn.Properties.Environment.Variables }));
}

describe('the app with the edge (the default)', () => {
  test("puts the web ACL in us-east-1 and the distribution in front of the API, whose URL every function gets as PUBLIC_URL", () => {
    const { controlPlane, edge } = buildControlPlaneApp(validatedApp({ plivoSourceRanges: RANGES }));
    expect(edge?.stackName).toBe(EDGE_STACK_NAME);
    expect(edge?.region).toBe('us-east-1');
    Template.fromStack(edge!).resourceCountIs('AWS::WAFv2::WebACL', 1);
    Template.fromStack(edge!).resourceCountIs('AWS::WAFv2::IPSet', 2);

    const template = Template.fromStack(controlPlane);
    const distributionId = controlPlane.getLogicalId(controlPlane.edge!.distribution.node.defaultChild as never);
    const secretId = controlPlane.getLogicalId(controlPlane.edge!.originSecret.node.defaultChild as never);
    const secretReference = { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secretId }, ':SecretString:::}}']] };
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        WebACLId: Match.anyValue(),
        DefaultCacheBehavior: Match.objectLike({
          AllowedMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'],
          ViewerProtocolPolicy: 'https-only',
          CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad', // Managed-CachingDisabled
          OriginRequestPolicyId: 'b689b0a8-53d0-40ab-baf2-68738e2966ac', // Managed-AllViewerExceptHostHeader
        }),
        Origins: [
          Match.objectLike({
            DomainName: { 'Fn::Join': ['', [{ Ref: Match.stringLikeRegexp('ApiHttpApi') }, '.execute-api.us-east-1.', { Ref: 'AWS::URLSuffix' }]] },
            CustomOriginConfig: Match.objectLike({ OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] }),
            OriginCustomHeaders: [{ HeaderName: ORIGIN_SECRET_HEADER, HeaderValue: secretReference }],
          }),
        ],
      }),
    });
    // The web ACL is the edge stack's, read from its outputs.
    const distribution = Object.values(template.findResources('AWS::CloudFront::Distribution'))[0] as { Properties: { DistributionConfig: { WebACLId: unknown } } };
    expect(JSON.stringify(distribution.Properties.DistributionConfig.WebACLId)).toContain(EDGE_STACK_NAME);
    template.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: { PasswordLength: 48, ExcludePunctuation: true } });

    const publicUrl = { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }]] };
    const all = functions(template);
    expect(all).toHaveLength(4);
    for (const { variables } of all) expect(variables.PUBLIC_URL).toEqual(publicUrl);
    // The HTTP functions refuse what did not come through the edge; the ranges are the web ACL's to check.
    const http = all.filter(({ description }) => /REST API|Answer URL/.test(description));
    expect(http).toHaveLength(2);
    for (const { variables } of http) expect(variables.ORIGIN_SECRET).toEqual(secretReference);
    for (const { variables } of all) expect(variables.PLIVO_SOURCE_RANGES).toBeUndefined();
    template.hasOutput('ApiUrl', { Value: publicUrl });
    // The secret's value appears nowhere in the template: only references to it.
    expect(JSON.stringify(template.toJSON())).not.toMatch(/"HeaderValue":"[^{]/);
  });

  test('the plivoSourceRanges and edgeRateLimits context reach the web ACL', () => {
    const { edge } = buildControlPlaneApp(validatedApp({ plivoSourceRanges: RANGES.join(','), edgeRateLimits: { hooks: 600, api: 1200 } }));
    const template = Template.fromStack(edge!);
    template.hasResourceProperties('AWS::WAFv2::IPSet', { IPAddressVersion: 'IPV4', Addresses: [RANGES[0]] });
    template.hasResourceProperties('AWS::WAFv2::IPSet', { IPAddressVersion: 'IPV6', Addresses: [RANGES[1]] });
    expect(rulesOf(template).map((rule) => rule.Name)).toEqual(['HooksFromPlivoOnly', 'ApiPerSource']);
    expect(rulesOf(template)[1]!.Statement).toEqual(perSource(1200, { NotStatement: { Statement: HOOKS } }));
    const { edge: unlisted } = buildControlPlaneApp(validatedApp({ edgeRateLimits: { hooks: 600 } }));
    expect(rulesOf(Template.fromStack(unlisted!))[0]).toMatchObject({ Name: 'HooksPerSource', Statement: perSource(600, HOOKS) });
  });

  test('ControlPlaneStack refuses a CloudFront certificate from outside us-east-1', () => {
    expect(
      () =>
        new ControlPlaneStack(testApp(), 'ControlPlane', {
          env: { region: 'ap-south-1' },
          mediaRegions: [{ id: 'in002', awsRegion: 'ap-south-1', claimsTableName: 'plivo-connector-in002-media', recordingsBucketName: 'plivo-connector-recordings-in002', domainName: 'media-in.example.com' }],
          homeMediaRegionId: 'in002',
          countryRegions: {},
          webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/api/11111111-2222-3333-4444-555555555555',
          apiDomainName: 'api.example.com',
          apiCertificateArn: CERTIFICATE_ARN.replace('us-east-1', 'ap-south-1'),
        }),
    ).toThrow(/ApiEdge Edge: certificate .* is in ap-south-1, but CloudFront only takes certificates from us-east-1/);
  });

  test("with the control plane in another region, still reads the us-east-1 web ACL", () => {
    const { controlPlane } = buildControlPlaneApp(validatedApp({ homeMediaRegion: 'in002' }));
    expect(controlPlane.region).toBe('ap-south-1');
    const template = Template.fromStack(controlPlane);
    const distribution = Object.values(template.findResources('AWS::CloudFront::Distribution'))[0] as { Properties: { DistributionConfig: { WebACLId: unknown } } };
    expect(JSON.stringify(distribution.Properties.DistributionConfig.WebACLId)).toMatch(/us-east-1/);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({ Origins: [Match.objectLike({ DomainName: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['.execute-api.ap-south-1.'])] }) })] }),
    });
  });

  test('a custom API domain goes on the distribution, with TLS 1.2, and the DNS target is the distribution', () => {
    const { controlPlane } = buildControlPlaneApp(validatedApp({ apiDomainName: 'api.example.com', apiCertificateArn: CERTIFICATE_ARN }));
    const template = Template.fromStack(controlPlane);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Aliases: ['api.example.com'],
        ViewerCertificate: { AcmCertificateArn: CERTIFICATE_ARN, MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' },
      }),
    });
    template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
    const distributionId = controlPlane.getLogicalId(controlPlane.edge!.distribution.node.defaultChild as never);
    template.hasOutput('ApiDomainTarget', { Value: { 'Fn::GetAtt': [distributionId, 'DomainName'] } });
    template.hasOutput('ApiUrl', { Value: 'https://api.example.com' });
  });
});

test('apiEdge: false builds none of it: no edge stack, distribution or secret; the execute-api URL; the answer function checks the ranges', () => {
  const { controlPlane, edge } = buildControlPlaneApp(validatedApp({ apiEdge: false, plivoSourceRanges: RANGES }));
  expect(edge).toBeUndefined();
  const template = Template.fromStack(controlPlane);
  template.resourceCountIs('AWS::CloudFront::Distribution', 0);
  template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  const apiId = controlPlane.getLogicalId(controlPlane.api.httpApi.node.defaultChild as never);
  for (const { description, variables } of functions(template)) {
    expect(variables.PUBLIC_URL).toEqual({ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] });
    expect(variables.ORIGIN_SECRET).toBeUndefined();
    if (description.includes('Answer URL')) expect(variables.PLIVO_SOURCE_RANGES).toBe(RANGES.join(','));
  }
});
