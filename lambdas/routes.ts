/**
 * Which Lambda serves which API Gateway routes. The CDK stack wires these routes and the local
 * stack's gateway dispatches by them, so both serve the same paths from the same handlers.
 */
export const HTTP_FUNCTIONS = {
  api: {
    entry: 'lambdas/api/handler.ts',
    routes: ['ANY /v2/connectors', 'ANY /v2/connectors/{proxy+}'],
  },
} as const;

export type HttpFunctionName = keyof typeof HTTP_FUNCTIONS;

/** The API stage's throttle (API Gateway answers 429 beyond it); the local gateway enforces the same. */
export const API_THROTTLE = { rateLimit: 100, burstLimit: 200 } as const;
