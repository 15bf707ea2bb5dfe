import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ApiError, type ErrorCode, type FieldError } from '../../core/errors';
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

/** Error bodies are always `{message, code, errors?}`. */
export function errorBody(code: ErrorCode, message: string, errors?: readonly FieldError[]): { message: string; code: ErrorCode; errors?: readonly FieldError[] } {
  return errors?.length ? { message, code, errors } : { message, code };
}

/**
 * Maps any thrown value to an error response. ApiErrors speak for themselves; anything else is a bug
 * or an outage: logged in full, answered with a bare 500 that reveals nothing.
 */
export function errorResult(err: unknown, log: Logger): HttpResult {
  if (err instanceof ApiError) {
    if (err.status >= 500) log.warn('request failed', { status: err.status, code: err.code, message: err.message });
    return json(err.status, errorBody(err.code, err.message, err.errors), { ...err.headers });
  }
  log.error('unhandled error', { err });
  return json(500, errorBody('internal_error', 'Internal server error'));
}
