/** One field-level problem in a request, as returned in `errors`. */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

/**
 * An error whose message is safe to show to the API caller. Each kind carries its HTTP status and a
 * stable machine code; anything that is not an ApiError is an internal error and is never shown.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
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

/** A dependency (the database, KMS) is unreachable or throttling; the caller may retry. */
export class ServiceUnavailableError extends ApiError {
  constructor(message: string) {
    super(503, 'service_unavailable', message, undefined, { 'retry-after': '1' });
  }
}
