import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ApiError } from '../../core/errors';
import type { Logger } from '../../core/log';

export type HttpResult = APIGatewayProxyStructuredResultV2 & { statusCode: number };

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** Success bodies are always `{message?, data}`. */
export function ok(data: unknown, message?: string, statusCode = 200): HttpResult {
  return json(statusCode, message === undefined ? { data } : { message, data });
}

/**
 * Maps any thrown value to an error response. ApiErrors speak for themselves; anything else is a bug
 * or an outage: logged in full, answered with a bare 500 that reveals nothing.
 */
export function errorResult(err: unknown, log: Logger): HttpResult {
  if (err instanceof ApiError) {
    if (err.status >= 500) log.warn('request failed', { status: err.status, code: err.code, message: err.message });
    const body = err.errors?.length ? { message: err.message, errors: err.errors } : { message: err.message };
    return json(err.status, body, { ...err.headers });
  }
  log.error('unhandled error', { err });
  return json(500, { message: 'Internal server error' });
}
