import createFetchClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema';

export type { components, operations, paths } from './schema';
export * from './webhooks';

/** The API's objects by their OpenAPI names: `Schemas['Call']`, `Schemas['Connector']`… */
export type Schemas = components['schemas'];

/** Every error body: `{message, code}` (README, "Error codes"), and `errors` for a 400's invalid fields. */
export type ApiErrorBody = Schemas['Error'];

export interface ClientOptions {
  /**
   * The API's URL without a path: the control plane stack's `ApiUrl` output once deployed, or the `apiUrl`
   * `npm start` prints (`.data/local-stack.json`).
   */
  readonly baseUrl: string;
  /** A management token (`allow_mod`), e.g. from `npm run token`; sent as `Authorization: Bearer <token>`. */
  readonly token: string;
  /** @default globalThis.fetch */
  readonly fetch?: (request: Request) => Promise<Response>;
}

/**
 * Typed calls by path and method, as the OpenAPI document has them: `client.GET('/v2/sip/call', {params: {query:
 * {page: 1}}})` resolves to `{data, response}` on success and `{error, response}` otherwise, `error` being the
 * typed error body. `orThrow` turns the second into an `ApiError`.
 */
export type PlivoConnectorClient = Client<paths>;

export function createClient(options: ClientOptions): PlivoConnectorClient {
  const url = URL.canParse(options.baseUrl) ? new URL(options.baseUrl) : null;
  if (!url || !['http:', 'https:'].includes(url.protocol)) {
    throw new Error(`createClient: baseUrl must be the API's http(s) URL, e.g. the stack's ApiUrl output; got ${JSON.stringify(options.baseUrl)}`);
  }
  if (!options.token) throw new Error('createClient: token is required (a management token, e.g. from `npm run token`)');
  return createFetchClient<paths>({
    baseUrl: url.href.replace(/\/+$/, ''),
    headers: { authorization: `Bearer ${options.token}` },
    ...(options.fetch && { fetch: options.fetch }),
  });
}

/** A refused request: its HTTP status and the API's stable `code`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** The API's code, or `http-<status>` for an answer without one (a proxy's, say). */
    readonly code: ApiErrorBody['code'] | `http-${number}`,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The data of a call that succeeded; an `ApiError` for one that did not. */
export async function orThrow<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok && error === undefined) return data as T;
  const body = (typeof error === 'object' && error !== null ? error : {}) as Partial<ApiErrorBody>;
  throw new ApiError(response.status, body.code ?? `http-${response.status}`, body.message ?? response.statusText, error);
}
