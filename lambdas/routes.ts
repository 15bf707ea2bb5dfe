/**
 * Which Lambda serves which API Gateway routes. The CDK stack wires these routes and the local
 * stack's gateway dispatches by them, so both serve the same paths from the same handlers.
 */
export const HTTP_FUNCTIONS = {
  api: {
    entry: 'lambdas/api/handler.ts',
    routes: [
      'ANY /v2/connectors',
      'ANY /v2/connectors/{proxy+}',
      'ANY /v2/routing-rules',
      'ANY /v2/routing-rules/{proxy+}',
      'ANY /v2/calls',
      'ANY /v2/calls/{proxy+}',
      'ANY /v2/webhooks',
      'ANY /v2/webhooks/{proxy+}',
      'ANY /v2/rooms/{proxy+}',
      'ANY /v2/public/{proxy+}',
    ],
  },
  answer: {
    entry: 'lambdas/answer/handler.ts',
    routes: ['ANY /v2/hooks/plivo/{key}'],
  },
} as const;

export type HttpFunctionName = keyof typeof HTTP_FUNCTIONS;

/** The API stage's throttle (API Gateway answers 429 beyond it); the local gateway enforces the same. */
export const API_THROTTLE = { rateLimit: 100, burstLimit: 200 } as const;
