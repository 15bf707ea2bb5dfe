import { createHmac, timingSafeEqual, verify } from 'node:crypto';

/**
 * Checks for the connector's webhook deliveries (docs/webhooks.md, "Verifying"). Both take the raw body: the exact
 * bytes received, before any JSON parsing. Neither throws on a missing or malformed header.
 */

/** How far `webhook-timestamp` may be from now, either way, by default: Standard Webhooks' 5 minutes. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * `videosdk-signature`: true when `signatureHeader` is the base64 RSA-SHA256 (PKCS#1 v1.5) signature of `rawBody`
 * under `publicKeyPem` (from `GET /v2/public/rsa-public-key`). It signs the body alone, so it cannot tell a replayed
 * request from the original: check `webhook-signature` too where the webhook has a secret.
 */
export function verifyVideosdkSignature(rawBody: Buffer | string, signatureHeader: string | undefined, publicKeyPem: string): boolean {
  if (!signatureHeader || !/^[A-Za-z0-9+/]+={0,2}$/.test(signatureHeader.trim())) return false;
  try {
    return verify('RSA-SHA256', Buffer.from(rawBody), publicKeyPem, Buffer.from(signatureHeader.trim(), 'base64'));
  } catch {
    return false;
  }
}

/**
 * The Standard Webhooks `webhook-signature` (https://www.standardwebhooks.com): `v1,` and the base64 HMAC-SHA256,
 * keyed by the secret's bytes, of `<webhook-id>.<webhook-timestamp>.<body>`. The connector signs with it and
 * receivers check with it. Binding the id and the time lets a receiver refuse replays.
 */
export function standardSignature(secret: string, id: string, timestamp: number, body: Buffer | string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')}`;
}

/** Request headers as Node's `req.headers` (lower-case names) or fetch's `Headers` hold them. */
export type WebhookHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

export type StandardVerification =
  | { readonly ok: true; readonly id: string; readonly timestamp: number }
  | { readonly ok: false; readonly reason: 'missing-headers' | 'stale-timestamp' | 'bad-signature' };

export interface StandardVerifyOptions {
  /** How far `webhook-timestamp` may be from `now`, in seconds, either way. @default DEFAULT_TOLERANCE_SECONDS */
  readonly toleranceSeconds?: number;
  /** @default Date.now() */
  readonly nowMs?: number;
}

/**
 * Checks a delivery's Standard Webhooks headers against the webhook's `whsec_…` secret (shown once, by
 * `POST /v2/sip/webhooks`). A request whose `webhook-timestamp` is further than the tolerance from now is refused
 * (`stale-timestamp`), so a captured request cannot be replayed later; within the tolerance, refuse a `webhook-id`
 * already processed (the same id also marks retries of one event). `ok` carries the id to deduplicate on.
 */
export function verifyStandardSignature(
  rawBody: Buffer | string,
  headers: WebhookHeaders,
  secret: string,
  options: StandardVerifyOptions = {},
): StandardVerification {
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestampText || !signatures || !/^\d{1,12}$/.test(timestampText)) return { ok: false, reason: 'missing-headers' };
  const timestamp = Number(timestampText);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs((options.nowMs ?? Date.now()) / 1000 - timestamp) > tolerance) return { ok: false, reason: 'stale-timestamp' };
  const expected = Buffer.from(standardSignature(secret, id, timestamp, rawBody));
  // The header may list several signatures, space-separated (a sender rotating secrets): any one matching will do.
  const matches = signatures.split(' ').some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  return matches ? { ok: true, id, timestamp } : { ok: false, reason: 'bad-signature' };
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  const value = headers instanceof Headers ? headers.get(name) : headers[name];
  return (typeof value === 'string' ? value : value?.[0])?.trim() || undefined;
}
