import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { BoundedMap } from '../../../core/bounded-map';
import type { Placement } from '../../../core/placement';
import type { SecretBox } from '../../../core/secret-box';

/** The headers of a relay join: who relays, what it joins, when it was signed and the signature over all three. */
export const RELAY_HEADERS = {
  /** The entry server's id. */
  from: 'x-relay-from',
  /** base64url JSON of the `Join` (`admission/join.ts`). */
  join: 'x-relay-join',
  /** When the entry server signed the join (epoch milliseconds). */
  time: 'x-relay-time',
  /** base64url HMAC-SHA256 with the owner's relay secret over the owner's id, `from`, `time` and `join`. */
  signature: 'x-relay-signature',
} as const;

/** A join is signed just before it is sent: one older (or further ahead, clocks differ) than this is refused. */
export const RELAY_JOIN_MAX_AGE_MS = 30_000;
/** Owners' secrets opened here, kept while their servers live (a region has tens of servers, not thousands). */
const OPENED_SECRETS = 1000;

const context = (serverId: string) => ({ purpose: 'media-relay', serverId });

export type RelayJoinCheck = { readonly ok: true; readonly join: string; readonly from: string } | { readonly ok: false; readonly why: string };

/**
 * How media servers of a region trust each other's relay joins. Each server makes a random secret at start and
 * publishes it in its server and placement records sealed by the KMS key, bound to its id: the region table holds
 * no secret in plaintext, and only a task allowed to decrypt with the key can relay. Each join is signed with the
 * owner's secret over its content and time, so a captured join cannot be changed, sent to another server, or sent
 * again (each signature is taken once while it is fresh).
 */
export class RelayAuth {
  /** Signatures taken within the last RELAY_JOIN_MAX_AGE_MS, with when they may be forgotten. */
  private readonly seen = new Map<string, number>();
  /** Owners' opened secrets, by sealed form. */
  private readonly opened = new BoundedMap<string, Promise<Buffer>>(OPENED_SECRETS);

  private constructor(
    private readonly box: SecretBox,
    readonly serverId: string,
    private readonly secret: Buffer,
    /** This server's secret as its records carry it. */
    readonly sealed: string,
  ) {}

  static async create(box: SecretBox, serverId: string): Promise<RelayAuth> {
    const secret = randomBytes(32);
    const sealed = Buffer.from(await box.seal(secret.toString('base64url'), context(serverId))).toString('base64');
    return new RelayAuth(box, serverId, secret, sealed);
  }

  /** The headers that relay `join` (base64url JSON) to `owner`. */
  async headersFor(owner: Placement, join: string, now = Date.now()): Promise<Record<string, string>> {
    const secret = await this.open(owner);
    const time = String(now);
    return { [RELAY_HEADERS.from]: this.serverId, [RELAY_HEADERS.join]: join, [RELAY_HEADERS.time]: time, [RELAY_HEADERS.signature]: sign(secret, owner.serverId, this.serverId, time, join) };
  }

  /** Checks a relay join sent to this server: signed with its secret, fresh, and not seen before. */
  check(headers: IncomingHttpHeaders, now = Date.now()): RelayJoinCheck {
    const value = (name: string) => String(headers[name] ?? '');
    const [from, join, time, signature] = [value(RELAY_HEADERS.from), value(RELAY_HEADERS.join), value(RELAY_HEADERS.time), value(RELAY_HEADERS.signature)];
    const expected = Buffer.from(sign(this.secret, this.serverId, from, time, join));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, why: 'Relay join signature invalid' };
    if (!(Math.abs(now - Number(time)) <= RELAY_JOIN_MAX_AGE_MS)) return { ok: false, why: 'Relay join expired' };
    for (const [seen, forgetAt] of this.seen) {
      if (forgetAt > now) break;
      this.seen.delete(seen);
    }
    if (this.seen.has(signature)) return { ok: false, why: 'Relay join already used' };
    this.seen.set(signature, now + 2 * RELAY_JOIN_MAX_AGE_MS);
    return { ok: true, join, from };
  }

  private open(owner: Placement): Promise<Buffer> {
    let secret = this.opened.get(owner.sealedRelaySecret);
    if (!secret) {
      secret = this.box.open(Buffer.from(owner.sealedRelaySecret, 'base64'), context(owner.serverId)).then((opened) => Buffer.from(opened, 'base64url'));
      // A failed open (the key service down) is tried again by the next join.
      secret.catch(() => this.opened.delete(owner.sealedRelaySecret));
      this.opened.set(owner.sealedRelaySecret, secret);
    }
    return secret;
  }
}

const sign = (secret: Buffer, owner: string, from: string, time: string, join: string): string =>
  createHmac('sha256', secret).update(`${owner}\n${from}\n${time}\n${join}`).digest('base64url');
