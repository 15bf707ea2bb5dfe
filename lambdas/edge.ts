/**
 * The edge in front of the HTTP API: a CloudFront distribution with an AWS WAF web ACL (lib/constructs/api-edge.ts,
 * lib/constructs/edge-firewall.ts), and its local stand-in at the front of `npm start`'s gateway
 * (local/http-gateway.ts). Both read their rules, limits and answers from here.
 *
 * API Gateway's route throttles count every request alike; the edge counts per source address, so one source cannot
 * spend the Answer URL's budget (HTTP_FUNCTIONS) that every tenant's Plivo calls share.
 */

/** Requests under this path are Plivo's (the Answer URL); every other path is the REST API's. */
export const HOOKS_PATH_PREFIX = '/v2/hooks/';

/** The header CloudFront adds to every request it sends the API: its value is a secret the functions check. */
export const ORIGIN_SECRET_HEADER = 'x-origin-verify';

/** WAF's rate-based rules count each source's requests over this trailing window (WAF allows 60, 120, 300 or 600). */
export const EDGE_RATE_WINDOW_SECONDS = 60;

/** Requests one source address may send in `EDGE_RATE_WINDOW_SECONDS`, per kind of path. */
export interface EdgeRateLimits {
  /** To the Answer URL (`/v2/hooks/`), from a source outside Plivo's ranges (or any source when none are given). */
  readonly hooks: number;
  /** To every other path (the REST API). */
  readonly api: number;
}

/**
 * 3000 a minute is 50 requests per second from one address. At the Answer URL, that is a twentieth of its route budget
 * (1000/s): a flood needs 20 addresses at full rate to fill it, and a Plivo address that is not exempted (no
 * `plivoSourceRanges`) still carries 25 calls a second (answer + hangup each). At the REST API, it is the default
 * per-tenant rate (`TENANT_RATE_LIMIT`, 50/s), so one tenant's servers behind one address are never cut below their own
 * limit, while one source can take at most half a REST route's budget (100/s).
 */
export const EDGE_RATE_LIMIT_DEFAULTS: EdgeRateLimits = { hooks: 3000, api: 3000 };

/** WAF's bounds on a rate-based rule's limit. */
export const EDGE_RATE_LIMIT_RANGE = [10, 2_000_000_000] as const;

/**
 * What the edge answers a request it blocks: 403 with a JSON body (WAF's custom responses cannot be XML). Plivo takes
 * any non-2xx answer as a failed Answer URL and hangs the call up, as it does for the functions' own 403.
 */
export const EDGE_REFUSALS = {
  rateLimited: { code: 'edge_rate_limited', message: 'Too many requests from this address; slow down' },
  sourceRefused: { code: 'edge_source_refused', message: "The Answer URL answers only Plivo's source addresses" },
} as const;

export type EdgeRefusal = keyof typeof EDGE_REFUSALS;
