import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { ApiError } from '../errors';
import { isPublicAddress, publicOnlyLookup } from '../webhooks/targets';

/**
 * A client of Plivo's Voice API (`/v1/Account/{authId}/…`): HTTP Basic auth with the account's auth id and token,
 * JSON bodies and trailing slashes, as Plivo's API reference and its SDKs use them. Plivo's field names are spelled
 * here alone; callers pass and get this module's camelCase shapes.
 *
 * Nothing is ever retried. A Make Call whose answer was lost (a timeout, a reset connection) may still have placed
 * the call, and a second attempt would ring the callee twice; a hangup or a transfer is no safer to repeat blindly.
 * A failure is reported (502 `plivo_error`, 504 `plivo_timeout`) and the caller decides.
 */
export interface PlivoCredentials {
  readonly authId: string;
  readonly authToken: string;
}

export interface VoiceApiOptions {
  /** `PLIVO_API_URL`, without a trailing slash. @default https://api.plivo.com */
  readonly baseUrl: string;
  /** Each request gets this long to be answered, body included (`PLIVO_API_TIMEOUT_MS`). @default DEFAULT_PLIVO_API_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /**
   * Local mode only: the API may be http and at a private or loopback address (the emulator of `npm start`).
   * Otherwise it must be https and every address its host resolves to public, checked on every connection.
   */
  readonly allowPrivateTargets: boolean;
}

export type CallbackMethod = 'GET' | 'POST';

export interface MakeCallRequest {
  /** The caller id, a Plivo number of the account (E.164 digits, with or without `+`). */
  readonly from: string;
  readonly to: string;
  readonly answerUrl: string;
  readonly answerMethod?: CallbackMethod;
  readonly ringUrl?: string;
  readonly hangupUrl?: string;
  readonly hangupMethod?: CallbackMethod;
  /** Seconds the callee's phone rings before the call ends unanswered. */
  readonly ringTimeout?: number;
  /** Seconds the answered call may last. */
  readonly timeLimit?: number;
}

export interface MakeCallResult {
  /** Plivo's id of the request; the call's CallUUID comes with the `ring_url` and `answer_url` requests. */
  readonly requestUuid: string;
  readonly apiId: string;
}

export interface TransferRequest {
  /** The URL whose XML the caller's leg (the A leg) runs next. */
  readonly alegUrl: string;
  readonly alegMethod?: CallbackMethod;
}

export const DEFAULT_PLIVO_API_URL = 'https://api.plivo.com';
/** How long a Voice API request may take by default: well inside API Gateway's 29 s, with the request's other work. */
export const DEFAULT_PLIVO_API_TIMEOUT_MS = 10_000;
/** Plivo's answers are small JSON; anything longer is cut, never buffered whole. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** How much of Plivo's error text our message carries. */
const MAX_ERROR_CHARS = 300;

const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

interface PlivoResponse {
  readonly status: number;
  readonly body: unknown;
}

const plivoError = (message: string) => new ApiError(502, 'plivo_error', message);

/** Plivo's `{api_id, error}` text (or whatever the body holds), cut to a length a message can carry. */
function errorText(body: unknown): string {
  const error = typeof body === 'object' && body !== null && 'error' in body ? body.error : body;
  const text = typeof error === 'string' ? error : JSON.stringify(error) ?? '';
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}

function refusal(status: number, body: unknown): ApiError {
  const said = errorText(body);
  if (status === 401) return plivoError(`Plivo refused the connector's plivoAuthId and plivoAuthToken (401)${said ? `: ${said}` : ''}`);
  return plivoError(`Plivo answered ${status}${said ? `: ${said}` : ''}`);
}

export class PlivoVoiceApi {
  private readonly timeoutMs: number;

  constructor(private readonly options: VoiceApiOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_PLIVO_API_TIMEOUT_MS;
  }

  /** Places a call (`POST Call/`, 201). */
  async makeCall(credentials: PlivoCredentials, call: MakeCallRequest): Promise<MakeCallResult> {
    const body = {
      from: call.from,
      to: call.to,
      answer_url: call.answerUrl,
      answer_method: call.answerMethod ?? 'POST',
      ...(call.ringUrl !== undefined && { ring_url: call.ringUrl }),
      ...(call.hangupUrl !== undefined && { hangup_url: call.hangupUrl, hangup_method: call.hangupMethod ?? 'POST' }),
      ...(call.ringTimeout !== undefined && { ring_timeout: call.ringTimeout }),
      ...(call.timeLimit !== undefined && { time_limit: call.timeLimit }),
    };
    const res = await this.request(credentials, 'POST', 'Call/', body);
    if (res.status !== 201 && res.status !== 200) throw refusal(res.status, res.body);
    const answer = (res.body ?? {}) as { request_uuid?: unknown; api_id?: unknown };
    // Several destinations (`a<b`) answer a list of request ids; one destination, one id.
    const requestUuid: unknown = Array.isArray(answer.request_uuid) ? (answer.request_uuid as unknown[])[0] : answer.request_uuid;
    if (typeof requestUuid !== 'string') throw plivoError('Plivo accepted the call but its answer carries no request_uuid');
    return { requestUuid, apiId: typeof answer.api_id === 'string' ? answer.api_id : '' };
  }

  /** Hangs up a call (`DELETE Call/{uuid}/`): `ended` on 204, `already-ended` on 404 (Plivo knows no such live call). */
  async hangup(credentials: PlivoCredentials, callUuid: string): Promise<'ended' | 'already-ended'> {
    const res = await this.request(credentials, 'DELETE', `Call/${encodeURIComponent(callUuid)}/`);
    if (res.status === 204 || res.status === 200) return 'ended';
    if (res.status === 404) return 'already-ended';
    throw refusal(res.status, res.body);
  }

  /**
   * Cancels a placed call Plivo has not connected yet (`DELETE Request/{request_uuid}/`, as Plivo's SDKs' `cancel`):
   * `ended` on 204, `already-ended` on 404 (it connected, or ended, meanwhile).
   */
  async cancel(credentials: PlivoCredentials, requestUuid: string): Promise<'ended' | 'already-ended'> {
    const res = await this.request(credentials, 'DELETE', `Request/${encodeURIComponent(requestUuid)}/`);
    if (res.status === 204 || res.status === 200) return 'ended';
    if (res.status === 404) return 'already-ended';
    throw refusal(res.status, res.body);
  }

  /** Sends the caller's leg to `alegUrl`'s XML (`POST Call/{uuid}/`, 202). */
  async transfer(credentials: PlivoCredentials, callUuid: string, transfer: TransferRequest): Promise<void> {
    const body = { legs: 'aleg', aleg_url: transfer.alegUrl, aleg_method: transfer.alegMethod ?? 'POST' };
    const res = await this.request(credentials, 'POST', `Call/${encodeURIComponent(callUuid)}/`, body);
    if (res.status !== 202 && res.status !== 200) throw refusal(res.status, res.body);
  }

  private async request(credentials: PlivoCredentials, method: string, path: string, body?: object): Promise<PlivoResponse> {
    const target = new URL(`${this.options.baseUrl.replace(/\/+$/, '')}/v1/Account/${encodeURIComponent(credentials.authId)}/${path}`);
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const allowPrivate = this.options.allowPrivateTargets;
    if (!allowPrivate && (target.protocol !== 'https:' || (isIP(host) && !isPublicAddress(host)))) {
      throw plivoError("Plivo's Voice API (PLIVO_API_URL) must be https at a public address");
    }
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const authorization = `Basic ${Buffer.from(`${credentials.authId}:${credentials.authToken}`, 'utf8').toString('base64')}`;
    return new Promise<PlivoResponse>((resolve, reject) => {
      const request = (target.protocol === 'https:' ? https : http).request(
        target,
        {
          method,
          agent: agents[target.protocol as keyof typeof agents],
          signal: AbortSignal.timeout(this.timeoutMs),
          ...(!allowPrivate && { lookup: publicOnlyLookup }),
          headers: {
            authorization,
            accept: 'application/json',
            'user-agent': 'plivo-connector/1',
            ...(payload && { 'content-type': 'application/json', 'content-length': payload.length }),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
            size += chunk.length;
          });
          response.on('error', (err: Error) => reject(failure(err, this.timeoutMs)));
          response.on('end', () => {
            const text = Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : null;
            } catch {
              // Not JSON (a proxy's page, a truncated body): its text is the error.
            }
            resolve({ status: response.statusCode ?? 0, body: parsed });
          });
        },
      );
      request.on('error', (err: Error) => reject(failure(err, this.timeoutMs)));
      request.end(payload);
    });
  }
}

function failure(err: NodeJS.ErrnoException, timeoutMs: number): ApiError {
  if (err.name === 'AbortError' || err.name === 'TimeoutError') {
    return new ApiError(504, 'plivo_timeout', `Plivo's Voice API did not answer within ${timeoutMs} ms; the request was not retried`);
  }
  return plivoError(`Plivo's Voice API could not be reached: ${err.code ?? err.message}`);
}
