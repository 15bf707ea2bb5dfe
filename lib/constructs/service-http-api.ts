import { Duration, Stack, Token } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import type {
  CfnStage} from 'aws-cdk-lib/aws-apigatewayv2';
import {
  ApiMapping,
  CorsHttpMethod,
  DomainName,
  HttpApi,
  HttpStage,
  LogGroupLogDestination,
  type HttpMethod,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { RouteThrottle } from '../../lambdas/routes';

/** The routes one function serves, each written as API Gateway route keys, e.g. `ANY /v2/connectors/{proxy+}`. */
export interface ApiRoutes {
  readonly handler: IFunction;
  readonly routes: readonly string[];
  /**
   * Each of these routes' own budget (route-level throttling: one token bucket per route key, never shared).
   * @default - the stage's `rateLimit` and `burstLimit`, applied to each route
   */
  readonly throttle?: RouteThrottle;
}

export interface ServiceHttpApiProps {
  /** Every route of the API; a route key may appear only once. */
  readonly routes: readonly ApiRoutes[];
  /** Steady-state requests per second of each route without its own `throttle`. @default 100 */
  readonly rateLimit?: number;
  /** Requests allowed in a burst above `rateLimit`, per route without its own `throttle`. @default 200 */
  readonly burstLimit?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly accessLogRetention?: RetentionDays;
  /**
   * Browser origins allowed to call the API cross-origin (CORS), e.g. the web console's `https://media.example.com`:
   * each `https://host[:port]`, no path. API Gateway answers their preflights itself.
   * @default - none: no CORS, no browser calls the API cross-origin
   */
  readonly corsAllowOrigins?: readonly string[];
  /** Custom domain, e.g. `api.example.com`; requires `certificateArn`. @default - the execute-api endpoint only */
  readonly domainName?: string;
  /** ACM certificate covering `domainName`, in the stack's region; requires `domainName`. @default - none */
  readonly certificateArn?: string;
}

const ROUTE_KEY = /^(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\/\S*)$/;

/**
 * An HTTP API (payload format 2.0) in front of Lambda handlers: one auto-deployed `$default` stage with
 * throttling and JSON access logs, CORS for the origins given only, optionally on a custom domain.
 */
export class ServiceHttpApi extends Construct {
  public readonly httpApi: HttpApi;
  public readonly stage: HttpStage;
  public readonly accessLogs: LogGroup;
  /** @default - undefined without a custom domain */
  public readonly domainName?: DomainName;
  /** Base URL clients use, without a trailing slash: the custom domain when set, else the execute-api endpoint. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: ServiceHttpApiProps) {
    super(scope, id);
    const { rateLimit, burstLimit } = validThrottle(id, { rateLimit: props.rateLimit ?? 100, burstLimit: props.burstLimit ?? 200 });
    const routes = parseRoutes(id, props.routes);
    validateCustomDomain(this, id, props.domainName, props.certificateArn);

    const corsAllowOrigins = validOrigins(id, props.corsAllowOrigins ?? []);
    this.httpApi = new HttpApi(this, 'HttpApi', {
      createDefaultStage: false,
      ...(corsAllowOrigins.length > 0 && {
        corsPreflight: {
          allowOrigins: corsAllowOrigins,
          allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.PUT, CorsHttpMethod.PATCH, CorsHttpMethod.DELETE],
          allowHeaders: ['authorization', 'content-type'],
          maxAge: Duration.hours(1),
        },
      }),
    });
    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? RetentionDays.ONE_MONTH,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      autoDeploy: true,
      throttle: { rateLimit, burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        // The route key, never $context.path: Answer URL paths carry the connector's secret webhook key.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            requestTime: '$context.requestTimeEpoch',
            sourceIp: '$context.identity.sourceIp',
            userAgent: '$context.identity.userAgent',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });

    const integrations = new Map<IFunction, HttpLambdaIntegration>();
    // CloudFormation's RouteSettings is a JSON map of route key -> settings, passed through as written.
    const routeSettings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
    for (const { handler, method, path, throttle } of routes) {
      let integration = integrations.get(handler);
      if (integration === undefined) {
        integration = new HttpLambdaIntegration(`${handler.node.id}Integration`, handler);
        integrations.set(handler, integration);
      }
      const added = this.httpApi.addRoutes({ path, methods: [method], integration });
      if (throttle === undefined) continue;
      routeSettings[`${method} ${path}`] = {
        ThrottlingRateLimit: throttle.rateLimit,
        ThrottlingBurstLimit: throttle.burstLimit,
      };
      // Route settings name a route key, which must exist before the stage that refers to it.
      this.stage.node.addDependency(...added);
    }
    if (Object.keys(routeSettings).length > 0) {
      (this.stage.node.defaultChild as CfnStage).routeSettings = routeSettings;
    }

    if (props.domainName !== undefined && props.certificateArn !== undefined) {
      this.domainName = new DomainName(this, 'DomainName', {
        domainName: props.domainName,
        certificate: Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn),
      });
      new ApiMapping(this, 'ApiMapping', { api: this.httpApi, domainName: this.domainName, stage: this.stage });
      this.url = `https://${props.domainName}`;
    } else {
      this.url = this.httpApi.apiEndpoint;
    }
  }
}

/** Origins as browsers send them: `https://host[:port]`, no path, no wildcard (the token goes with every request). */
function validOrigins(id: string, origins: readonly string[]): string[] {
  for (const origin of origins) {
    if (Token.isUnresolved(origin)) continue;
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    if (parsed === null || parsed.protocol !== 'https:' || parsed.origin !== origin) {
      throw new Error(`ServiceHttpApi ${id}: corsAllowOrigins entry "${origin}" must be an https origin with no path, e.g. "https://media.example.com".`);
    }
  }
  return [...new Set(origins)];
}

function validThrottle(id: string, throttle: RouteThrottle, route = ''): RouteThrottle {
  const where = `ServiceHttpApi ${id}${route && `: route "${route}"`}`;
  if (!(throttle.rateLimit > 0)) {
    throw new Error(`${where}: rateLimit must be a positive number of requests per second, got ${throttle.rateLimit}.`);
  }
  if (!Number.isInteger(throttle.burstLimit) || throttle.burstLimit < 1) {
    throw new Error(`${where}: burstLimit must be a positive integer, got ${throttle.burstLimit}.`);
  }
  return throttle;
}

function parseRoutes(
  id: string,
  groups: readonly ApiRoutes[],
): { handler: IFunction; method: HttpMethod; path: string; throttle?: RouteThrottle }[] {
  const seen = new Set<string>();
  const routes = groups.flatMap(({ handler, routes: keys, throttle }) =>
    keys.map((key) => {
      const match = ROUTE_KEY.exec(key);
      if (match === null) {
        throw new Error(
          `ServiceHttpApi ${id}: route "${key}" must be "<METHOD> /path", e.g. "ANY /v2/connectors/{proxy+}".`,
        );
      }
      if (seen.has(key)) {
        throw new Error(
          `ServiceHttpApi ${id}: route "${key}" is listed more than once; each route key has one handler.`,
        );
      }
      seen.add(key);
      return {
        handler,
        method: match[1] as HttpMethod,
        path: match[2]!,
        ...(throttle && { throttle: validThrottle(id, throttle, key) }),
      };
    }),
  );
  if (routes.length === 0) {
    throw new Error(`ServiceHttpApi ${id}: give at least one route.`);
  }
  return routes;
}

function validateCustomDomain(scope: Construct, id: string, domainName?: string, certificateArn?: string): void {
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    throw new Error(`ServiceHttpApi ${id}: domainName and certificateArn go together; set both or neither.`);
  }
  const certificateRegion = certificateArn?.split(':')[3];
  const stackRegion = Stack.of(scope).region;
  // A regional API Gateway domain only accepts a certificate from its own region.
  if (certificateRegion !== undefined && !Token.isUnresolved(stackRegion) && certificateRegion !== stackRegion) {
    throw new Error(
      `ServiceHttpApi ${id}: certificate ${certificateArn} is in ${certificateRegion} ` +
        `but the API is in ${stackRegion}; request or import the certificate in ${stackRegion}.`,
    );
  }
}
