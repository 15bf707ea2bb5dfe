import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Plivo request signatures (HMAC-SHA256 keyed with the Plivo auth token, base64). Only V3 is accepted:
 * it signs the URL with its query, every POST parameter and a nonce. The older V2 signs the URL without
 * its query, and the nonce: one captured V2 header would vouch for any parameters, any `?roomId=` and
 * any stream ref sent to the same path, so V2 headers are refused, never verified.
 */
export type Params = ReadonlyMap<string, readonly string[]>;

export interface SignedRequest {
  readonly method: string;
  /** The external URL Plivo called, query included (any scheme: see `signedUrlForms`). */
  readonly url: string;
  /** POST form parameters (URL-decoded); empty for GET. */
  readonly params: Params;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
}

/** Why a request's Plivo signature is refused, and what to tell the caller. */
export const SIGNATURE_REFUSALS = {
  missing: 'Plivo signature missing: X-Plivo-Signature-V3 and X-Plivo-Signature-V3-Nonce are required',
  'v2-only': 'Plivo V3 signature required: V2 signs neither the query nor the parameters, so it is not accepted',
  invalid: "Plivo signature invalid: it does not match the connector's plivoAuthToken over this URL and parameters",
} as const;

export type SignatureRefusal = keyof typeof SIGNATURE_REFUSALS;
export type SignatureCheck = 'valid' | SignatureRefusal;

/** `scheme://host[:port]/path`: the port kept as written, the query and fragment dropped. */
function baseUrl(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/i.exec(url);
  if (!match) throw new Error('not an absolute URL');
  return `${match[1]}://${match[2]}${match[3]}`;
}

function queryOf(url: string): Map<string, string[]> {
  const query = /^[^?#]*\?([^#]*)/.exec(url)?.[1] ?? '';
  const params = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(query)) params.set(key, [...(params.get(key) ?? []), value]);
  return params;
}

function merge(a: Params, b: Params): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const source of [a, b]) for (const [key, values] of source) out.set(key, [...(out.get(key) ?? []), ...values]);
  return out;
}

const sortedKeys = (params: Params): string[] => [...params.keys()].sort();
const sortedQuery = (params: Params): string =>
  sortedKeys(params)
    .flatMap((key) => [...(params.get(key) ?? [])].sort().map((value) => `${key}=${value}`))
    .join('&');
const sortedPairs = (params: Params): string =>
  sortedKeys(params)
    .flatMap((key) => [...(params.get(key) ?? [])].sort().map((value) => key + value))
    .join('');

/** The V3 string to sign, before `.` + nonce. */
export function v3Base(method: string, url: string, params: Params): string {
  const base = baseUrl(url);
  if (method === 'GET') {
    const query = sortedQuery(merge(queryOf(url), params));
    return query ? `${base}?${query}` : base;
  }
  const query = sortedQuery(queryOf(url));
  if (params.size === 0) return query ? `${base}?${query}` : base;
  return `${base}?${query}${query ? '.' : ''}${sortedPairs(params)}`;
}

const hmac = (authToken: string, data: string): string => createHmac('sha256', authToken).update(data, 'utf8').digest('base64');

export function signV3(authToken: string, method: string, url: string, params: Params, nonce: string): string {
  return hmac(authToken, `${v3Base(method, url, params)}.${nonce}`);
}

/**
 * The headers Plivo sends with a request: V3 signed with the account's token and `-Ma-V3` with the main
 * account's (one token here), and a fresh nonce.
 */
export function plivoSignatureHeaders(authToken: string, method: string, url: string, params: Params): Record<string, string> {
  const nonce = randomBytes(12).toString('hex');
  const signature = signV3(authToken, method, url, params, nonce);
  return { 'x-plivo-signature-v3': signature, 'x-plivo-signature-ma-v3': signature, 'x-plivo-signature-v3-nonce': nonce };
}

/**
 * The forms of the URL Plivo called that it may have signed: as called, and with `https:` and `http:`.
 * Which scheme Plivo signs a WebSocket upgrade with (`wss:`, `https:`, `http:`) is not settled; the
 * HMAC still binds host, path, query and parameters, so accepting each scheme lets nothing else through.
 */
export function signedUrlForms(url: string): string[] {
  return [...new Set([url, url.replace(/^[a-z][a-z0-9+.-]*:/i, 'https:'), url.replace(/^[a-z][a-z0-9+.-]*:/i, 'http:')])];
}

/** Constant-time: any of the comma-separated candidates equals the expected signature. */
function anyMatches(header: string, expected: string): boolean {
  const want = createHash('sha256').update(expected).digest();
  let matched = false;
  for (const candidate of header.split(',')) {
    // Compare digests, so unequal lengths take the same path as unequal contents.
    matched = timingSafeEqual(createHash('sha256').update(candidate.trim()).digest(), want) || matched;
  }
  return matched;
}

const V2_HEADERS = ['x-plivo-signature-v2', 'x-plivo-signature-ma-v2', 'x-plivo-signature-v2-nonce'];

/**
 * Checks a Plivo request against the connector's auth token: its V3 headers (`-Ma-V3` is signed with
 * the main account's token) over any of the URL's signed forms. Without V3 headers a request is
 * `v2-only` when it carries V2 ones, else `missing`.
 */
export function checkPlivoSignature(authToken: string, request: SignedRequest): SignatureCheck {
  const h = request.headers;
  const nonce = h['x-plivo-signature-v3-nonce'];
  const v3 = [h['x-plivo-signature-v3'], h['x-plivo-signature-ma-v3']].filter((s): s is string => Boolean(s));
  if (!nonce || !v3.length) return V2_HEADERS.some((name) => h[name]) ? 'v2-only' : 'missing';
  try {
    const matches = signedUrlForms(request.url).some((url) => {
      const expected = signV3(authToken, request.method, url, request.params, nonce);
      return v3.some((header) => anyMatches(header, expected));
    });
    return matches ? 'valid' : 'invalid';
  } catch {
    return 'invalid';
  }
}
