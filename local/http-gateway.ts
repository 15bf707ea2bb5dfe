import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Logger } from '../core/log';
import { sourceAllowList } from '../core/plivo/source-ranges';
import { EDGE_RATE_WINDOW_SECONDS, EDGE_REFUSALS, HOOKS_PATH_PREFIX, type EdgeRateLimits, type EdgeRefusal } from '../lambdas/edge';
import type { RouteThrottle } from '../lambdas/routes';
import { BodyTooLarge, readBody } from './http-body';

/**
 * A stand-in for API Gateway (HTTP API, payload format 2.0): matches the same route keys the CDK
 * stack declares, throttles each route key in its own bucket with the same budget, builds the same events
 * for the same Lambda handlers, and answers its own errors as API Gateway does (404 for no route, 429 beyond
 * a route's budget, 413 above 10 MB, 500 when a handler throws). In front of it, when given, the edge's rules
 * (CloudFront + WAF in AWS) judge each request by its source address first, answering 403 as WAF does.
 */
export type LambdaHttpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** The web ACL's rules (lib/constructs/edge-firewall.ts), judged on the connection's address as WAF judges the viewer's. */
export interface EdgeRules {
  /** Plivo's ranges: no other source reaches the Answer URL, and these are not rate-limited there. [] for none. */
  readonly plivoSourceRanges: readonly string[];
  readonly rateLimits: EdgeRateLimits;
}

export interface GatewayFunction {
  readonly routes: readonly string[];
  /** Each of `routes` gets a bucket of its own with this budget, as API Gateway's route settings do. */
  readonly throttle: RouteThrottle;
  readonly handler: LambdaHttpHandler;
}

const API_GATEWAY_MAX_BODY = 10 * 1024 * 1024;

/**
 * The server's timeouts: request headers within 10 s, a whole request (a body up to 10 MB) within 30 s, API Gateway's
 * own integration timeout; checked every second. A connection that sends nothing is answered 408 and closed after
 * 10 s, where Node's defaults (60 s, 300 s, checked every 30 s) would keep it for up to 90 s.
 */
export const GATEWAY_SERVER_OPTIONS = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000 } as const;
const TEXT_TYPE = /^(text\/|application\/(json|xml|x-www-form-urlencoded|javascript)|[^;]*\+(json|xml))/i;

interface CompiledRoute {
  readonly method: string;
  readonly routeKey: string;
  readonly pattern: RegExp;
  readonly names: readonly string[];
  readonly handler: LambdaHttpHandler;
  /** Takes a token from this route's own bucket; false when it is empty. */
  readonly admit: () => boolean;
}

function compile(routeKey: string, { handler, throttle }: GatewayFunction): CompiledRoute {
  const [method = '', path = ''] = routeKey.split(' ');
  const names: string[] = [];
  const source = path
    .split('/')
    .map((segment) => {
      const param = /^\{(\w+)(\+?)\}$/.exec(segment);
      if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(param[1] as string);
      return param[2] ? '(.+)' : '([^/]+)';
    })
    .join('/');
  return { method, routeKey, pattern: new RegExp(`^${source}$`), names, handler, admit: tokenBucket(throttle) };
}

function send(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  if (result.cookies?.length) headers['set-cookie'] = result.cookies;
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(result.body === undefined ? undefined : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8'));
}

const gatewayError = (statusCode: number, message: string): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ message }),
});

export function buildEvent(req: IncomingMessage, route: CompiledRoute, pathParameters: Record<string, string>, body: Buffer): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://local');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && name !== 'cookie') headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) query[key] = key in query ? `${query[key]},${value}` : value;
  const contentType = headers['content-type'] ?? '';
  const isBase64Encoded = body.length > 0 && !TEXT_TYPE.test(contentType);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(req.headers.cookie && { cookies: req.headers.cookie.split(';').map((c) => c.trim()) }),
    headers,
    ...(Object.keys(query).length && { queryStringParameters: query }),
    ...(Object.keys(pathParameters).length && { pathParameters }),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0] ?? 'localhost',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 && { body: body.toString(isBase64Encoded ? 'base64' : 'utf8') }),
    isBase64Encoded,
  };
}

/** API Gateway's route throttle: a token bucket of `burstLimit` tokens refilled at `rateLimit` per second. */
function tokenBucket({ rateLimit, burstLimit }: RouteThrottle): () => boolean {
  let tokens = burstLimit;
  let last = performance.now();
  return () => {
    const now = performance.now();
    tokens = Math.min(burstLimit, tokens + ((now - last) / 1000) * rateLimit);
    last = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}

/**
 * WAF's rate-based rule, per source address: each source its own route-style bucket of `limit` requests refilled over
 * the window, which holds any window to about `limit` as WAF's trailing count does. Once a window, the buckets of
 * sources silent for a whole window (full again) are forgotten, so a spread of addresses costs memory only while
 * they send.
 */
function perSourceLimit(limit: number): (source: string) => boolean {
  const windowMs = EDGE_RATE_WINDOW_SECONDS * 1000;
  const buckets = new Map<string, { admit: () => boolean; used: number }>();
  let pruned = performance.now();
  return (source) => {
    const now = performance.now();
    if (now - pruned >= windowMs) {
      pruned = now;
      for (const [key, bucket] of buckets) if (now - bucket.used >= windowMs) buckets.delete(key);
    }
    let bucket = buckets.get(source);
    if (bucket === undefined) {
      bucket = { admit: tokenBucket({ rateLimit: limit / EDGE_RATE_WINDOW_SECONDS, burstLimit: limit }), used: now };
      buckets.set(source, bucket);
    }
    bucket.used = now;
    return bucket.admit();
  };
}

/** The web ACL's rules in its order: which refusal a request from `source` to `path` gets, or null to pass it on. */
function edgeFilter({ plivoSourceRanges, rateLimits }: EdgeRules): (source: string, path: string) => EdgeRefusal | null {
  const fromPlivo = sourceAllowList(plivoSourceRanges);
  const hooks = perSourceLimit(rateLimits.hooks);
  const api = perSourceLimit(rateLimits.api);
  return (source, path) => {
    if (!path.startsWith(HOOKS_PATH_PREFIX)) return api(source) ? null : 'rateLimited';
    if (fromPlivo === null) return hooks(source) ? null : 'rateLimited';
    return fromPlivo(source) ? null : 'sourceRefused';
  };
}

/** A `request` listener that dispatches to the functions' handlers by their API Gateway route keys. */
export function createGatewayListener(functions: readonly GatewayFunction[], log: Logger, edge: EdgeRules | null = null) {
  const routes = functions.flatMap((fn) => fn.routes.map((key) => compile(key, fn)));
  const refusal = edge && edgeFilter(edge);
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://local').pathname;
    } catch {
      // A request target no URL parser accepts (`//[`): Node passes it on; API Gateway refuses it.
      req.resume();
      send(res, gatewayError(400, 'Bad Request'));
      return;
    }
    const refused = refusal?.(req.socket.remoteAddress ?? '', path);
    if (refused) {
      req.resume();
      send(res, { statusCode: 403, headers: { 'content-type': 'application/json' }, body: JSON.stringify(EDGE_REFUSALS[refused]) });
      return;
    }
    const method = req.method ?? 'GET';
    let match: RegExpExecArray | null = null;
    const route = routes.find((r) => (r.method === 'ANY' || r.method === method) && (match = r.pattern.exec(path)) !== null);
    if (!route || !match) {
      send(res, gatewayError(404, 'Not Found'));
      return;
    }
    if (!route.admit()) {
      req.resume();
      send(res, gatewayError(429, 'Too Many Requests'));
      return;
    }
    const found: RegExpExecArray = match;
    const params = Object.fromEntries(route.names.map((name, i) => [name, found[i + 1] ?? '']));
    let result: APIGatewayProxyStructuredResultV2;
    try {
      result = await route.handler(buildEvent(req, route, params, await readBody(req, API_GATEWAY_MAX_BODY)));
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        result = gatewayError(413, 'Request Entity Too Large');
        res.setHeader('connection', 'close');
      } else {
        log.error('handler threw', { err, route: route.routeKey }); // the route key, not the path: paths carry webhook keys
        result = gatewayError(500, 'Internal Server Error');
      }
    }
    send(res, result);
  };
}
