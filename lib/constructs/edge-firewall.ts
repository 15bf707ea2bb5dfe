import { ArnFormat, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnIPSet, CfnLoggingConfiguration, CfnWebACL } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { isIP } from 'node:net';
import {
  EDGE_RATE_LIMIT_DEFAULTS,
  EDGE_RATE_LIMIT_RANGE,
  EDGE_RATE_WINDOW_SECONDS,
  EDGE_REFUSALS,
  HOOKS_PATH_PREFIX,
  type EdgeRateLimits,
  type EdgeRefusal,
} from '../../lambdas/edge';

export interface EdgeFirewallProps {
  /**
   * Plivo's published source ranges (CIDRs): no other source reaches the Answer URL, and Plivo's own requests are never
   * rate-limited there (it sends every tenant's calls from few addresses).
   * @default [] - any source may call the Answer URL, each within `rateLimits.hooks`
   */
  readonly plivoSourceRanges?: readonly string[];
  /** Requests per source address per `EDGE_RATE_WINDOW_SECONDS`. @default EDGE_RATE_LIMIT_DEFAULTS */
  readonly rateLimits?: EdgeRateLimits;
  /** Name of the log group of blocked requests; WAF requires the `aws-waf-logs-` prefix. @default 'aws-waf-logs-plivo-connector' */
  readonly logGroupName?: string;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/** The Answer URL's paths, after the decoding API Gateway routes by, so no spelling of them escapes the rules. */
const HOOKS_PATH: CfnWebACL.StatementProperty = {
  byteMatchStatement: {
    fieldToMatch: { uriPath: {} },
    positionalConstraint: 'STARTS_WITH',
    searchString: HOOKS_PATH_PREFIX,
    textTransformations: [
      { priority: 0, type: 'URL_DECODE' },
      { priority: 1, type: 'NORMALIZE_PATH' },
    ],
  },
};
const not = (statement: CfnWebACL.StatementProperty): CfnWebACL.StatementProperty => ({ notStatement: { statement } });

/**
 * The AWS WAF web ACL of the API's CloudFront distribution (scope CLOUDFRONT, so its stack must be in us-east-1). In
 * order: with Plivo's ranges, the Answer URL refuses every other source; else each source gets `rateLimits.hooks`
 * there. Every other path gets `rateLimits.api` per source. A blocked request is answered 403 with `EDGE_REFUSALS`'
 * JSON and logged; every rule has CloudWatch metrics and sampled requests. No managed rule group: see
 * docs/operations.md for why the IP reputation list is left out.
 */
export class EdgeFirewall extends Construct {
  public readonly webAcl: CfnWebACL;
  /** Blocked requests only (allowed ones are in the API's access log). */
  public readonly logs: LogGroup;

  constructor(scope: Construct, id: string, props: EdgeFirewallProps = {}) {
    super(scope, id);
    const region = Stack.of(this).region;
    if (!Token.isUnresolved(region) && region !== 'us-east-1') {
      throw new Error(`EdgeFirewall ${id}: a CloudFront web ACL must be created in us-east-1; this stack is in ${region}.`);
    }
    const rateLimits = props.rateLimits ?? EDGE_RATE_LIMIT_DEFAULTS;
    const [min, max] = EDGE_RATE_LIMIT_RANGE;
    for (const [kind, limit] of Object.entries(rateLimits)) {
      if (!Number.isInteger(limit) || limit < min || limit > max) {
        throw new Error(`EdgeFirewall ${id}: rateLimits.${kind} must be a whole number from ${min} to ${max} (WAF's bounds); got ${limit}.`);
      }
    }
    const ranges = props.plivoSourceRanges ?? [];
    const logGroupName = props.logGroupName ?? 'aws-waf-logs-plivo-connector';
    if (!logGroupName.startsWith('aws-waf-logs-')) {
      throw new Error(`EdgeFirewall ${id}: logGroupName must start with "aws-waf-logs-" (WAF logs nowhere else); got "${logGroupName}".`);
    }

    const rules: CfnWebACL.RuleProperty[] = [];
    const block = (refusal: EdgeRefusal): CfnWebACL.RuleActionProperty => ({
      block: { customResponse: { responseCode: 403, customResponseBodyKey: refusal } },
    });
    const rule = (name: string, statement: CfnWebACL.StatementProperty, refusal: EdgeRefusal): void => {
      rules.push({
        name,
        priority: rules.length,
        statement,
        action: block(refusal),
        visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: name, sampledRequestsEnabled: true },
      });
    };
    const perSource = (limit: number, scopeDownStatement: CfnWebACL.StatementProperty): CfnWebACL.StatementProperty => ({
      rateBasedStatement: { limit, aggregateKeyType: 'IP', evaluationWindowSec: EDGE_RATE_WINDOW_SECONDS, scopeDownStatement },
    });
    if (ranges.length > 0) {
      // With Plivo's ranges, every request that reaches the Answer URL is Plivo's: a per-source limit there would only
      // count Plivo, which sends every tenant's calls from a few addresses.
      const sets = (['IPV4', 'IPV6'] as const)
        .map((version) => ({ version, addresses: ranges.filter((range) => isIP(range.split('/')[0] ?? '') === (version === 'IPV4' ? 4 : 6)) }))
        .filter(({ addresses }) => addresses.length > 0)
        .map(({ version, addresses }) => new CfnIPSet(this, `PlivoSources${version}`, { scope: 'CLOUDFRONT', ipAddressVersion: version, addresses }));
      const fromPlivo = sets.map((set): CfnWebACL.StatementProperty => ({ ipSetReferenceStatement: { arn: set.attrArn } }));
      const inRanges = fromPlivo.length === 1 ? fromPlivo[0]! : { orStatement: { statements: fromPlivo } };
      rule('HooksFromPlivoOnly', { andStatement: { statements: [HOOKS_PATH, not(inRanges)] } }, 'sourceRefused');
    } else {
      rule('HooksPerSource', perSource(rateLimits.hooks, HOOKS_PATH), 'rateLimited');
    }
    rule('ApiPerSource', perSource(rateLimits.api, not(HOOKS_PATH)), 'rateLimited');

    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      description: 'Plivo connector API: per-source limits and the Answer URL source allow-list',
      defaultAction: { allow: {} },
      rules,
      customResponseBodies: Object.fromEntries(
        Object.entries(EDGE_REFUSALS).map(([key, body]) => [key, { contentType: 'APPLICATION_JSON', content: JSON.stringify(body) }]),
      ),
      visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: 'PlivoConnectorApi', sampledRequestsEnabled: true },
    });

    this.logs = new LogGroup(this, 'Logs', {
      logGroupName,
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      // Its name is fixed (WAF's prefix): a group left behind by a deleted stack would fail the next deploy.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    new CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      // WAF takes the log group's ARN without the `:*` that LogGroup.logGroupArn ends with.
      logDestinationConfigs: [
        Stack.of(this).formatArn({ service: 'logs', resource: 'log-group', resourceName: this.logs.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      ],
      // Blocked requests only: allowed traffic is every Plivo call and API request, which API Gateway already logs.
      loggingFilter: {
        DefaultBehavior: 'DROP',
        Filters: [{ Behavior: 'KEEP', Requirement: 'MEETS_ANY', Conditions: [{ ActionCondition: { Action: 'BLOCK' } }] }],
      },
    });
  }
}
