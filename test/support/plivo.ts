import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { validateSignature, validateV3Signature } from 'plivo';
import { plivoSignatureHeaders } from '../../core/plivo/signature';

/**
 * Acts as Plivo does toward an Answer URL: form POST (or GET) with Plivo's fields, signed with V3
 * headers when given an auth token. Every signature is first accepted by the official `plivo`
 * package's validator, so the requests are Plivo's as its own SDK understands them.
 */
export interface PlivoCall {
  readonly callUuid: string;
  readonly from: string;
  readonly to: string;
}

export function newCall(fields: Partial<PlivoCall> = {}): PlivoCall {
  return { callUuid: randomUUID(), from: '14155550100', to: '14155550199', ...fields };
}

export function answerFields(call: PlivoCall, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CallUUID: call.callUuid,
    From: call.from,
    To: call.to,
    Direction: 'inbound',
    CallStatus: 'ringing',
    Event: 'StartApp',
    CallerName: 'Ada',
    'X-PH-Test': 'yes',
    ...extra,
  };
}

export function hangupFields(call: PlivoCall, extra: Record<string, string> = {}): Record<string, string> {
  return answerFields(call, { Event: 'Hangup', CallStatus: 'completed', Duration: '42', BillDuration: '60', HangupCause: 'NORMAL_CLEARING', HangupCauseName: 'Normal Hangup', HangupSource: 'Caller', ...extra });
}

export interface PlivoRequestOptions {
  readonly authToken?: string;
  readonly method?: 'POST' | 'GET';
  /** Extra or overriding headers (e.g. a forged signature). */
  readonly headers?: Record<string, string>;
}

/** Plivo's V3 signature headers for a request to `url` (query included) carrying `form` (POST only). */
export function signatureHeaders(authToken: string, method: 'POST' | 'GET', url: string, form: Record<string, string>): Record<string, string> {
  const headers = plivoSignatureHeaders(authToken, method, url, new Map(Object.entries(form).map(([k, v]) => [k, [v]])));
  if (!validateV3Signature(method, url, headers['x-plivo-signature-v3-nonce']!, authToken, headers['x-plivo-signature-v3']!, form)) {
    throw new Error('the official plivo validator refused the test harness signature');
  }
  return headers;
}

/**
 * Genuine V2 headers for `url`: the HMAC of `scheme://host/path` + nonce, query and parameters left out,
 * which is what lets one captured V2 header vouch for any request to that path.
 */
export function v2SignatureHeaders(authToken: string, url: string): Record<string, string> {
  const nonce = randomBytes(10).toString('hex');
  const { protocol, host, pathname } = new URL(url);
  const signature = createHmac('sha256', authToken).update(`${protocol}//${host}${pathname}${nonce}`).digest('base64');
  if (!validateSignature(url, nonce, signature, authToken)) throw new Error('the official plivo validator refused the test harness V2 signature');
  return { 'x-plivo-signature-v2': signature, 'x-plivo-signature-ma-v2': signature, 'x-plivo-signature-v2-nonce': nonce };
}

export async function plivoRequest(url: string, fields: Record<string, string>, options: PlivoRequestOptions = {}): Promise<Response> {
  const method = options.method ?? 'POST';
  const headers: Record<string, string> = {};
  let target = url;
  let body: string | undefined;
  if (method === 'GET') {
    const u = new URL(url);
    for (const [k, v] of Object.entries(fields)) u.searchParams.append(k, v);
    target = u.toString();
  } else {
    body = new URLSearchParams(fields).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  if (options.authToken) Object.assign(headers, signatureHeaders(options.authToken, method, target, method === 'GET' ? {} : fields));
  return fetch(target, { method, headers: { ...headers, ...options.headers }, ...(body !== undefined && { body }) });
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseAttributeValue: false, allowBooleanAttributes: true });

export interface ParsedAnswer {
  readonly status: number;
  readonly contentType: string | null;
  readonly raw: string;
  readonly xml: Record<string, unknown>;
}

export async function parseAnswer(res: Response): Promise<ParsedAnswer> {
  const raw = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), raw, xml: parser.parse(raw) as Record<string, unknown> };
}

/** The `<Stream>` element of an answer: its attributes and its URL. */
export function streamOf(answer: ParsedAnswer): { attributes: Record<string, string>; url: URL } {
  const response = answer.xml.Response as { Stream?: Record<string, string> } | undefined;
  const stream = response?.Stream;
  if (!stream) throw new Error(`no <Stream> in ${answer.raw}`);
  const { '#text': text, ...attributes } = stream;
  return { attributes, url: new URL(text as string) };
}
