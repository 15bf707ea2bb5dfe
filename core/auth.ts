import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { decodeJwt, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { BoundedMap } from './bounded-map';
import { ForbiddenError, UnauthorizedError } from './errors';
import { API_KEY } from './tenants';

/**
 * VideoSDK-style API tokens: HS256 JWTs naming the tenant in `apikey`, signed with its secret. `allow_agent` lets a
 * room participant join as `kind=agent` (speech sent ahead of real time, a larger flood allowance); participant
 * tokens never carry it.
 */
export const PERMISSIONS = ['allow_join', 'allow_mod', 'allow_agent'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface Principal {
  readonly tenant: string;
  readonly permissions: ReadonlySet<Permission>;
  /** Participant tokens (`POST /v2/rooms/{roomId}/tokens`) admit to this one room only. */
  readonly roomId: string | null;
}

export interface SecretSource {
  getSecret(apikey: string): Promise<string | null>;
}

/**
 * How long a process trusts a tenant's secret it has read: a deleted (revoked) secret stops verifying
 * tokens within this, on every API instance and media server, without a KMS decrypt per request.
 */
export const SECRET_CACHE_SECONDS = 30;
/** The longest a token may live (`exp - iat`): a leaked token is good for a day at most. */
export const MAX_TOKEN_LIFETIME_SECONDS = 86_400;
const CACHE_MAX = 1_000;
const CLOCK_TOLERANCE_S = 5;
/** Verified against when the tenant is unknown, so an unknown tenant costs what a bad signature costs. */
const DECOY_KEY = createSecretKey(randomBytes(32));

function tokenFrom(header: string | undefined): string {
  const value = header?.trim();
  if (!value) throw new UnauthorizedError('Missing Authorization header: send "Authorization: Bearer <token>"');
  // VideoSDK's SDKs send the bare token; accept both forms. Not one regular expression over the whole value: on a
  // value megabytes long, `\S+$` overflowed the regular expression engine's stack now and then (a RangeError, not a 401).
  const prefix = /^Bearer\s+/i.exec(value.slice(0, 64));
  const token = prefix ? value.slice(prefix[0].length) : '';
  return token && !/\s/.test(token) ? token : value;
}

/** Whether `text` is a non-empty run of base64url characters (a loop: no regular expression over a value megabytes long). */
function isBase64url(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95)) return false;
  }
  return true;
}

/**
 * Compact JWS (three base64url segments), and base64url decoders ignore the spare low bits of the last character (and
 * padding), so several spellings of one signature would verify: only the one its bytes encode to is taken. Checked
 * without a regular expression: on Node 22 one over a token megabytes long overflowed the engine's stack (a RangeError,
 * not a 401).
 */
function isCanonicalJws(token: string): boolean {
  const parts = token.split('.', 4);
  if (parts.length !== 3 || !parts.every(isBase64url)) return false;
  const signature = parts[2] as string;
  return Buffer.from(signature, 'base64url').toString('base64url') === signature;
}

function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && (PERMISSIONS as readonly string[]).includes(value);
}

export class Authenticator {
  private readonly keys = new BoundedMap<string, { key: KeyObject; expiresAt: number }>(CACHE_MAX);

  constructor(
    private readonly secrets: SecretSource,
    private readonly now: () => number = Date.now,
  ) {}

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const token = tokenFrom(authorization);
    if (!isCanonicalJws(token)) throw new UnauthorizedError('Invalid token');
    let apikey: unknown;
    try {
      apikey = decodeJwt(token).apikey;
    } catch {
      throw new UnauthorizedError('Invalid token');
    }
    const key = typeof apikey === 'string' && API_KEY.test(apikey) ? await this.keyFor(apikey) : null;
    try {
      const { payload } = await jwtVerify(token, key ?? DECOY_KEY, {
        algorithms: ['HS256'],
        requiredClaims: ['exp', 'iat'],
        clockTolerance: CLOCK_TOLERANCE_S,
        // Also refuses an `iat` in the future: a token cannot outlive its maximum by claiming a later birth.
        maxTokenAge: MAX_TOKEN_LIFETIME_SECONDS,
      });
      if (!key) throw new UnauthorizedError('Invalid token');
      if ((payload.exp as number) - (payload.iat as number) > MAX_TOKEN_LIFETIME_SECONDS) throw new UnauthorizedError('Invalid token');
      // Claims of the wrong type make a malformed token, not one with fewer rights. Unknown permissions are ignored.
      const claimed: unknown = payload.permissions;
      if (claimed !== undefined && !(Array.isArray(claimed) && claimed.every((p) => typeof p === 'string'))) throw new UnauthorizedError('Invalid token');
      if (payload.roomId !== undefined && typeof payload.roomId !== 'string') throw new UnauthorizedError('Invalid token');
      const permissions = (claimed ?? []).filter(isPermission);
      return { tenant: apikey as string, permissions: new Set(permissions), roomId: payload.roomId ?? null };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new UnauthorizedError('Token expired');
      throw new UnauthorizedError('Invalid token');
    }
  }

  private async keyFor(apikey: string): Promise<KeyObject | null> {
    const now = this.now();
    const cached = this.keys.get(apikey);
    if (cached && cached.expiresAt > now) return cached.key;
    const secret = await this.secrets.getSecret(apikey);
    if (!secret) return null;
    const key = createSecretKey(Buffer.from(secret, 'utf8'));
    this.keys.set(apikey, { key, expiresAt: now + SECRET_CACHE_SECONDS * 1000 });
    return key;
  }
}

export function requirePermission(principal: Principal, permission: Permission): void {
  if (!principal.permissions.has(permission)) {
    throw new ForbiddenError(`This token lacks the "${permission}" permission`);
  }
}

/** Whether `principal` may join the tenant's room `roomId`: `allow_join`, and the token's room if it names one. */
export function requireRoomAccess(principal: Principal, roomId: string): void {
  requirePermission(principal, 'allow_join');
  if (principal.roomId !== null && principal.roomId !== roomId) throw new ForbiddenError('This token is for another room');
}

export interface MintOptions {
  readonly apikey: string;
  readonly permissions?: readonly Permission[];
  readonly ttlSeconds: number;
  /** Limits the token to one room: a participant token. */
  readonly roomId?: string;
}

export async function mintToken(secret: string, options: MintOptions): Promise<string> {
  if (!(options.ttlSeconds > 0 && options.ttlSeconds <= MAX_TOKEN_LIFETIME_SECONDS)) {
    throw new Error(`A token lives 1-${MAX_TOKEN_LIFETIME_SECONDS} seconds (24 h); got ${options.ttlSeconds}`);
  }
  const claims = { apikey: options.apikey, permissions: [...(options.permissions ?? PERMISSIONS)], version: 2, ...(options.roomId !== undefined && { roomId: options.roomId }) };
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(iat)
    .setExpirationTime(iat + options.ttlSeconds)
    .sign(Buffer.from(secret, 'utf8'));
}
