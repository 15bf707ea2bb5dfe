import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Plivo request signatures (HMAC-SHA256 keyed with the Plivo auth token, base64), V3 and the older V2,
 * as Plivo's SDKs compute them. `url` is the external URL Plivo called, query included.
 */
export type Params = ReadonlyMap<string, readonly string[]>;

export interface SignedRequest {
  readonly method: string;
  readonly url: string;
  /** POST form parameters (URL-decoded); empty for GET. */
  readonly params: Params;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
}

export type SignatureCheck = 'valid' | 'invalid' | 'missing';

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

export function signV2(authToken: string, url: string, nonce: string): string {
  return hmac(authToken, baseUrl(url) + nonce);
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

/**
 * Checks a Plivo request against the connector's auth token: V3 when its headers are present (the
 * `-Ma-` variant is signed with the main account's token), else V2; neither present is `missing`.
 */
export function checkPlivoSignature(authToken: string, request: SignedRequest): SignatureCheck {
  const h = request.headers;
  const v3Nonce = h['x-plivo-signature-v3-nonce'];
  const v3 = [h['x-plivo-signature-v3'], h['x-plivo-signature-ma-v3']].filter((s): s is string => Boolean(s));
  try {
    if (v3Nonce && v3.length) {
      const expected = signV3(authToken, request.method, request.url, request.params, v3Nonce);
      return v3.some((header) => anyMatches(header, expected)) ? 'valid' : 'invalid';
    }
    const v2Nonce = h['x-plivo-signature-v2-nonce'];
    const v2 = [h['x-plivo-signature-v2'], h['x-plivo-signature-ma-v2']].filter((s): s is string => Boolean(s));
    if (v2Nonce && v2.length) {
      const expected = signV2(authToken, request.url, v2Nonce);
      return v2.some((header) => anyMatches(header, expected)) ? 'valid' : 'invalid';
    }
  } catch {
    return 'invalid';
  }
  return 'missing';
}
