/** An API Gateway route throttle: a token bucket of `burstLimit` requests refilled at `rateLimit` per second. */
export interface RouteThrottle {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/**
 * Which Lambda serves which API Gateway routes, and each of those routes' own throttle. The CDK stack wires these
 * routes and budgets and the local stack's gateway dispatches and throttles by them, so both serve the same paths
 * from the same handlers within the same budgets.
 *
 * Every route key has a bucket of its own (API Gateway's route-level throttling), so no route's traffic can spend
 * another's: a flood at the Answer URL never refuses a REST API call, nor the reverse. The Answer URL's budget is
 * ten times the REST API's: Plivo's requests for every tenant share it, and a refusal there (unknown key, bad
 * signature) costs at most one key-index read, so a flood of them must run into the Lambda's cheap refusals, not
 * into the budget Plivo's real calls need. What a single source can send is bounded only in front of API Gateway,
 * by the edge (CloudFront + WAF: lambdas/edge.ts).
 */
export const HTTP_FUNCTIONS = {
  api: {
    entry: 'lambdas/api/handler.ts',
    routes: [
      'ANY /v2/connectors',
      'ANY /v2/connectors/{proxy+}',
      'ANY /v2/agents',
      'ANY /v2/agents/{proxy+}',
      'ANY /v2/agent/{proxy+}',
      'ANY /v2/sip/{proxy+}',
      'ANY /v2/rooms',
      'ANY /v2/rooms/{proxy+}',
      'ANY /v2/sessions',
      'ANY /v2/sessions/{proxy+}',
      'ANY /v2/recordings',
      'ANY /v2/recordings/{proxy+}',
      'ANY /v2/public/{proxy+}',
    ],
    throttle: { rateLimit: 100, burstLimit: 200 },
  },
  answer: {
    entry: 'lambdas/answer/handler.ts',
    routes: ['ANY /v2/hooks/plivo/{key}'],
    throttle: { rateLimit: 1000, burstLimit: 2000 },
  },
} as const satisfies Record<string, { entry: string; routes: readonly string[]; throttle: RouteThrottle }>;

export type HttpFunctionName = keyof typeof HTTP_FUNCTIONS;
