import type { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays, type CfnLogGroup } from 'aws-cdk-lib/aws-logs';
import { ServiceHttpApi, type ServiceHttpApiProps } from '../../lib/constructs/service-http-api';
import { testStack } from './helpers';

const CERTIFICATE_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';

function handler(stack: Stack, id: string): LambdaFunction {
  return new LambdaFunction(stack, id, {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async () => {};'),
  });
}

function build(
  props: Partial<ServiceHttpApiProps> = {},
  stack = testStack(),
): { api: ServiceHttpApi; template: () => Template } {
  const api = new ServiceHttpApi(stack, 'Api', {
    routes: [{ handler: handler(stack, 'Handler'), routes: ['ANY /v2/connectors', 'ANY /v2/connectors/{proxy+}'] }],
    ...props,
  });
  return { api, template: () => Template.fromStack(stack) };
}

function apiTemplate(props: Partial<ServiceHttpApiProps> = {}): Template {
  return build(props).template();
}

describe('API and stage', () => {
  test('is an HTTP API without CORS', () => {
    const template = apiTemplate();
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: Match.absent(),
    });
  });

  test('allows the given origins cross-origin (CORS), with the token and JSON bodies, and no others', () => {
    apiTemplate({ corsAllowOrigins: ['https://media-us.example.com', 'https://media-in.example.com', 'https://media-us.example.com'] }).hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: {
        AllowOrigins: ['https://media-us.example.com', 'https://media-in.example.com'],
        AllowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
        AllowHeaders: ['authorization', 'content-type'],
        AllowCredentials: Match.absent(),
        MaxAge: 3600,
      },
    });
    apiTemplate({ corsAllowOrigins: [] }).hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.absent() });
  });

  test.each(['*', 'http://media.example.com', 'https://media.example.com/console', 'media.example.com'])('refuses the CORS origin %s', (origin) => {
    expect(() => apiTemplate({ corsAllowOrigins: [origin] })).toThrow(`corsAllowOrigins entry "${origin}" must be an https origin with no path`);
  });

  test('has one auto-deployed $default stage', () => {
    const template = apiTemplate();
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: '$default', AutoDeploy: true });
  });

  test('throttles at 100 rps with bursts of 200 by default', () => {
    apiTemplate().hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
    });
  });

  test('takes custom throttling', () => {
    apiTemplate({ rateLimit: 10, burstLimit: 20 }).hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
    });
  });

  test.each([0, -1])('rejects rateLimit %p', (rateLimit) => {
    expect(() => apiTemplate({ rateLimit })).toThrow(/rateLimit must be a positive number/);
  });

  test.each([0, 1.5])('rejects burstLimit %p', (burstLimit) => {
    expect(() => apiTemplate({ burstLimit })).toThrow(/burstLimit must be a positive integer/);
  });

  test('a route group with its own throttle gets a bucket per route key, and the stage waits for those routes', () => {
    const stack = testStack();
    new ServiceHttpApi(stack, 'Api', {
      routes: [
        { handler: handler(stack, 'Rest'), routes: ['ANY /v2/connectors'] },
        { handler: handler(stack, 'Hook'), routes: ['ANY /v2/hooks/{key}', 'GET /v2/ping'], throttle: { rateLimit: 7, burstLimit: 9 } },
      ],
    });
    const template = Template.fromStack(stack);
    const limits = { ThrottlingRateLimit: 7, ThrottlingBurstLimit: 9 };
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      RouteSettings: { 'ANY /v2/hooks/{key}': limits, 'GET /v2/ping': limits },
    });
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0] as { DependsOn?: string[] };
    const routeIds = Object.entries(template.findResources('AWS::ApiGatewayV2::Route'))
      .filter(([, route]) => (route as { Properties: { RouteKey: string } }).Properties.RouteKey !== 'ANY /v2/connectors')
      .map(([id]) => id);
    expect(stage.DependsOn).toEqual(expect.arrayContaining(routeIds));
    expect(routeIds).toHaveLength(2);
  });

  test('without per-route throttles the stage has no route settings', () => {
    apiTemplate().hasResourceProperties('AWS::ApiGatewayV2::Stage', { RouteSettings: Match.absent() });
  });

  test.each([
    [{ rateLimit: 0, burstLimit: 1 }, /route "ANY \/v2\/connectors": rateLimit must be a positive number/],
    [{ rateLimit: 1, burstLimit: 0.5 }, /route "ANY \/v2\/connectors": burstLimit must be a positive integer/],
  ])('rejects the route throttle %p', (throttle, message) => {
    const stack = testStack();
    expect(
      () => new ServiceHttpApi(stack, 'Api', { routes: [{ handler: handler(stack, 'H'), routes: ['ANY /v2/connectors'], throttle }] }),
    ).toThrow(message);
  });

  test('url is the execute-api endpoint without a custom domain', () => {
    const { api } = build();
    expect(api.url).toBe(api.httpApi.apiEndpoint);
    expect(api.domainName).toBeUndefined();
  });
});

describe('access logs', () => {
  function accessLogFormat(template: Template): Record<string, string> {
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0] as {
      Properties: { AccessLogSettings: { Format: string } };
    };
    return JSON.parse(stage.Properties.AccessLogSettings.Format) as Record<string, string>;
  }

  test('go to their own log group, kept one month by default', () => {
    const { api, template: toTemplate } = build();
    const template = toTemplate();
    const logGroupId = api.accessLogs.stack.getLogicalId(api.accessLogs.node.defaultChild as CfnLogGroup);
    expect(template.findResources('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 } })).toHaveProperty(
      logGroupId,
    );
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] }, Format: Match.anyValue() },
    });
  });

  test('take a custom retention', () => {
    apiTemplate({ accessLogRetention: RetentionDays.ONE_YEAR }).hasResourceProperties('AWS::Logs::LogGroup', {
      RetentionInDays: 365,
    });
  });

  test('are JSON with the request id, route key and status', () => {
    expect(accessLogFormat(apiTemplate())).toMatchObject({
      requestId: '$context.requestId',
      routeKey: '$context.routeKey',
      status: '$context.status',
    });
  });

  test('never log the request path, which can carry a secret webhook key', () => {
    expect(Object.values(accessLogFormat(apiTemplate()))).not.toContain('$context.path');
  });
});

describe('routes', () => {
  test('creates each route key with a payload 2.0 Lambda integration shared by the handler', () => {
    const template = apiTemplate();
    template.resourceCountIs('AWS::ApiGatewayV2::Integration', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
    });
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 2);
    for (const routeKey of ['ANY /v2/connectors', 'ANY /v2/connectors/{proxy+}']) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, AuthorizationType: 'NONE' });
    }
  });

  test('lets API Gateway invoke the handler', () => {
    apiTemplate().hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
    });
  });

  test('gives each handler its own integration', () => {
    const stack = testStack();
    const template = build(
      {
        routes: [
          { handler: handler(stack, 'Connectors'), routes: ['ANY /v2/connectors'] },
          { handler: handler(stack, 'Hooks'), routes: ['POST /v2/hooks/plivo/{key}'] },
        ],
      },
      stack,
    ).template();
    template.resourceCountIs('AWS::ApiGatewayV2::Integration', 2);
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /v2/hooks/plivo/{key}' });
  });

  test.each(['/v2/connectors', 'ANY v2/connectors', 'FETCH /v2/connectors', 'any /v2/connectors'])(
    'rejects the malformed route key %p',
    (key) => {
      const stack = testStack();
      expect(() => build({ routes: [{ handler: handler(stack, 'H'), routes: [key] }] }, stack)).toThrow(
        /must be "<METHOD> \/path"/,
      );
    },
  );

  test('rejects a route key listed twice', () => {
    const stack = testStack();
    const routes = [
      { handler: handler(stack, 'A'), routes: ['ANY /v2/connectors'] },
      { handler: handler(stack, 'B'), routes: ['ANY /v2/connectors'] },
    ];
    expect(() => build({ routes }, stack)).toThrow(/"ANY \/v2\/connectors" is listed more than once/);
  });

  test('rejects an API without routes', () => {
    expect(() => apiTemplate({ routes: [] })).toThrow(/at least one route/);
  });
});

describe('custom domain', () => {
  const domain = { domainName: 'api.example.com', certificateArn: CERTIFICATE_ARN };

  test('is absent by default', () => {
    const template = apiTemplate();
    template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
    template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 0);
  });

  test('creates the domain name with its certificate and maps it to the stage', () => {
    const template = apiTemplate(domain);
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'api.example.com',
      DomainNameConfigurations: [Match.objectLike({ CertificateArn: CERTIFICATE_ARN, EndpointType: 'REGIONAL' })],
    });
    const [apiId] = Object.keys(template.findResources('AWS::ApiGatewayV2::Api'));
    const [domainId] = Object.keys(template.findResources('AWS::ApiGatewayV2::DomainName'));
    template.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', {
      ApiId: { Ref: apiId },
      DomainName: { Ref: domainId },
      Stage: '$default',
    });
  });

  test('url is the custom domain', () => {
    expect(build(domain).api.url).toBe('https://api.example.com');
  });

  test('rejects a domain without a certificate', () => {
    expect(() => apiTemplate({ domainName: 'api.example.com' })).toThrow(/domainName and certificateArn go together/);
  });

  test('rejects a certificate without a domain', () => {
    expect(() => apiTemplate({ certificateArn: CERTIFICATE_ARN })).toThrow(/domainName and certificateArn go together/);
  });

  test('rejects a certificate from another region than the stack', () => {
    expect(() => build(domain, testStack({ env: { region: 'ap-south-1' } }))).toThrow(
      /certificate .* is in us-east-1 but the API is in ap-south-1/,
    );
  });

  test('accepts a certificate from the stack region', () => {
    expect(() => build(domain, testStack({ env: { region: 'us-east-1' } }))).not.toThrow();
  });
});
