/** The management API as the console calls it: a token, a base URL, errors as the API words them. */

/** An API answer that was not 2xx, or no answer at all (`status` 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The API's `code` (core/errors.ts); null when the answer had none (a gateway's own error, no answer). */
    readonly code: string | null,
  ) {
    super(message);
  }

  /** What the console shows: the API's message, its code and the HTTP status. */
  describe(): string {
    const details = [this.code, this.status === 0 ? null : `HTTP ${this.status}`].filter((detail) => detail !== null);
    return details.length === 0 ? this.message : `${this.message} (${details.join(', ')})`;
  }
}

export interface Credentials {
  /** The API's base URL, no trailing slash. */
  readonly apiUrl: string;
  /** A management token (`allow_mod`). */
  readonly token: string;
}

/** The `{data, pageInfo}` of a numbered list (calls, rooms, webhooks, deliveries, agents, sessions). */
export interface NumberedPage<T> {
  readonly data: T[];
  readonly pageInfo: { currentPage: number; perPage: number; lastPage: number; total: number; totalIsLowerBound?: boolean };
}

export type Query = Readonly<Record<string, string | number | undefined>>;

/** `path` with the query's set values. */
export function withQuery(path: string, query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** One API request; resolves with the parsed body, rejects with an `ApiError` that carries the API's `message` and `code`. */
export async function request<T>(credentials: Credentials, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(credentials.apiUrl + path, {
      method,
      headers: { authorization: `Bearer ${credentials.token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new ApiError(0, `The API at ${credentials.apiUrl} did not answer: ${(err as Error).message}`, null);
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: an error page in front of the API, kept as the message below.
  }
  if (!res.ok) {
    const error = parsed as { message?: unknown; code?: unknown } | null;
    const message = typeof error?.message === 'string' ? error.message : text.slice(0, 200) || res.statusText;
    throw new ApiError(res.status, message, typeof error?.code === 'string' ? error.code : null);
  }
  return parsed as T;
}

/** A thrown value as the console shows it. */
export const describeError = (err: unknown): string => (err instanceof ApiError ? err.describe() : err instanceof Error ? err.message : String(err));
