/** One field-level problem in a request, as returned in `errors`. */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/**
 * Every `code` an error body carries beside its `message` (the REST API's, the media server's refused upgrades): the
 * one vocabulary, typed into `ApiError`, that README lists (checked by a test). Clients act on a code, so one never
 * changes meaning; messages may.
 */
export const ERROR_CODES = {
  bad_request: '400: a malformed body, an invalid field (`errors` lists them), an invalid room id, `sampleRate` or `kind`',
  unauthorized: '401: a missing, invalid or expired token',
  forbidden: "403: the token lacks a permission, or is for another room",
  room_deactivated: '403: the room was deactivated (`POST /v2/rooms/deactivate`): no participant may join it',
  origin_refused: '403: the request did not come through the edge (call the API at its public URL)',
  not_found: '404: no such resource (or another tenant\'s), or no such path',
  method_not_allowed: '405: the path takes other methods (`Allow` lists them)',
  conflict: '409: changed concurrently (retry), in use, or at its limit (the message says which)',
  room_not_here: '409: between media servers only: the room is no longer placed on the server a join was relayed to',
  transfer_limit: '409: the call has been transferred 10 times (`MAX_TRANSFERS`), the most one call may be; place a new call',
  plivo_credentials_missing: '409: the connector lacks the Plivo credentials call control needs (the message names `plivoAuthId` or `plivoAuthToken`)',
  claim_expired: "410: a stream's claim expired before the stream came",
  payload_too_large: '413: a body over 64 KB',
  unsupported_media_type: '415: a body that is not `application/json`',
  rate_limited: "429: over the tenant's API rate (`Retry-After` says when to retry)",
  room_full: '429: the room has `MAX_PARTICIPANTS_PER_ROOM` participants',
  room_limit: '429: the tenant has `MAX_ROOMS_PER_TENANT` rooms on the media server',
  connection_limit: '429: the tenant has `MAX_CONNECTIONS_PER_TENANT` connections on the media server',
  unavailable: "503: the database or KMS is unavailable, a feature is not configured, or the room's media server cannot be reached (retry shortly)",
  bad_gateway: '502: `npm start` only: the media server it chose did not take the connection (retry)',
  plivo_error: "502: Plivo's Voice API refused the request or could not be reached (the message carries Plivo's own)",
  plivo_timeout: "504: Plivo's Voice API did not answer in time; nothing was retried, so check the call before trying again",
  draining: '503: the media server is draining; connect again to reach another',
  shutting_down: '503: the media server is shutting down; retry',
  server_full: '503: the media server has `MAX_CONNECTIONS` connections; connect again to reach another',
  internal_error: '500: a bug or an outage; the body reveals nothing more',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * An error whose message is safe to show to the API caller. Each kind carries its HTTP status and a
 * stable machine code; anything that is not an ApiError is an internal error and is never shown.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly errors?: readonly FieldError[],
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends ApiError {
  constructor(message: string, errors?: readonly FieldError[]) {
    super(400, 'bad_request', message, errors);
  }
}

export class UnauthorizedError extends ApiError {
  constructor(message: string) {
    super(401, 'unauthorized', message, undefined, { 'www-authenticate': 'Bearer' });
  }
}

export class ForbiddenError extends ApiError {
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

export class NotFoundError extends ApiError {
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

export class MethodNotAllowedError extends ApiError {
  constructor(allowed: readonly string[]) {
    super(405, 'method_not_allowed', `Method not allowed; use ${allowed.join(', ')}`, undefined, {
      allow: allowed.join(', '),
    });
  }
}

export class ConflictError extends ApiError {
  constructor(message: string) {
    super(409, 'conflict', message);
  }
}

export class PayloadTooLargeError extends ApiError {
  constructor(limitBytes: number) {
    super(413, 'payload_too_large', `Request body exceeds ${limitBytes} bytes`);
  }
}

export class UnsupportedMediaTypeError extends ApiError {
  constructor(expected: string) {
    super(415, 'unsupported_media_type', `Content-Type must be ${expected}`);
  }
}

/** The caller went over a limit; `retryAfterSeconds` (whole seconds) says when it may try again. */
export class TooManyRequestsError extends ApiError {
  constructor(message: string, retryAfterSeconds: number) {
    super(429, 'rate_limited', message, undefined, { 'retry-after': String(retryAfterSeconds) });
  }
}

/** A dependency (the database, KMS) is unreachable or throttling; the caller may retry. */
export class ServiceUnavailableError extends ApiError {
  constructor(message: string) {
    super(503, 'unavailable', message, undefined, { 'retry-after': '1' });
  }
}

const TRANSIENT_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'KMSInternalException',
  'DependencyTimeoutException',
  'TimeoutError',
  'RequestTimeout',
]);

const NETWORK_ERROR = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)\b/;

/** True for faults of a dependency the caller can only wait out: unreachable, throttling, timing out. */
function isTransient(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } } | null;
  if (!e || e instanceof ApiError) return false;
  if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
  // Socket errors keep their code, or only their message once the SDK has wrapped them.
  if (NETWORK_ERROR.test(e.code ?? '') || NETWORK_ERROR.test(e.message ?? '')) return true;
  return (e.$metadata?.httpStatusCode ?? 0) >= 500;
}

/**
 * Runs one call to a dependency (the database, KMS). Transient faults become a 503 naming the
 * dependency; everything else is rethrown as is.
 */
export async function callDependency<T>(dependency: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!isTransient(err)) throw err;
    throw new ServiceUnavailableError(`The ${dependency} is unavailable; retry shortly`);
  }
}
