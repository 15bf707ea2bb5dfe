import { createHash, randomBytes } from 'node:crypto';

/** Crockford base32, lowercase: sorts like the numbers it encodes, no ambiguous letters. */
const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `length` characters drawn uniformly from `alphabet` (rejection sampling: no modulo bias). */
export function randomString(alphabet: string, length: number): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit) out += alphabet[byte % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/**
 * A time-ordered id: `prefix` + 16 Crockford base32 chars = 9 chars of milliseconds since the epoch
 * (good until the year 3084) + 7 random chars (35 bits). Ids name resources; they grant nothing,
 * since every lookup is scoped to its tenant, so ordering by creation is worth more than more bits.
 */
export function timeOrderedId(prefix: string, now: number = Date.now(), tail: string = randomString(CROCKFORD, 7)): string {
  let time = '';
  let ms = now;
  for (let i = 0; i < 9; i++) {
    time = CROCKFORD.charAt(ms % 32) + time;
    ms = Math.floor(ms / 32);
  }
  return prefix + time + tail;
}

/** When a time-ordered id was made, in milliseconds since the epoch (whatever its prefix). */
export function timeOfId(id: string): number {
  let ms = 0;
  for (const char of id.slice(id.indexOf('_') + 1, id.indexOf('_') + 10)) ms = ms * 32 + CROCKFORD.indexOf(char);
  return ms;
}

/** What `timeOrderedId(prefix)` produces, and nothing else. */
const timeOrderedIdPattern = (prefix: string): RegExp => new RegExp(`^${prefix}[${CROCKFORD}]{16}$`);

export const CONNECTOR_ID = timeOrderedIdPattern('cn_');
export const RULE_ID = timeOrderedIdPattern('rr_');
export const WEBHOOK_ID = timeOrderedIdPattern('wh_');
export const AGENT_ID = timeOrderedIdPattern('ag_');
export const DELIVERY_ID = timeOrderedIdPattern('whd_');
export const ROOM_RECORD_ID = timeOrderedIdPattern('rm_');
/** A session's id: time-ordered (sessions list newest first, and a date window is a key range), 100 random bits after. */
export const SESSION_ID = new RegExp(`^ss_[${CROCKFORD}]{29}$`);
const SESSION_RANDOM_CHARS = 20;

export function newConnectorId(now?: number): string {
  return timeOrderedId('cn_', now);
}

export function newRuleId(now?: number): string {
  return timeOrderedId('rr_', now);
}

export function newWebhookId(now?: number): string {
  return timeOrderedId('wh_', now);
}

export function newAgentId(now?: number): string {
  return timeOrderedId('ag_', now);
}

/** A room record's `id` (not its `roomId`, the name it is joined by). */
export function newRoomRecordId(now?: number): string {
  return timeOrderedId('rm_', now);
}

/** A room session's id: unguessable, so a session is found only by whoever was told it (and only in its tenant). */
export function newSessionId(now?: number): string {
  return timeOrderedId('ss_', now, randomString(CROCKFORD, SESSION_RANDOM_CHARS));
}

/** Lowercase letters and digits: a room's `roomId` is 12 of them, `xxxx-xxxx-xxxx` (about 62 random bits). */
const ROOM_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A new room's `roomId`: unguessable, since a room id is all a routing rule or a participant token names. */
export function newRoomKey(): string {
  return randomString(ROOM_ID_ALPHABET, 12).replace(/(.{4})(.{4})(.{4})/, '$1-$2-$3');
}

/**
 * A delivery's id follows from what its event is about (a call's id, a session event's id), the event and its receiver
 * (and the event's time, for order), so publishing an event again, after a crash, finds the records its first try wrote
 * instead of writing twins.
 */
export function deliveryIdFor(subject: string, event: string, webhookId: string, at: number): string {
  const digest = createHash('sha256').update(`${subject}\0${event}\0${webhookId}`).digest();
  return timeOrderedId('whd_', at, [...digest.subarray(0, 7)].map((byte) => CROCKFORD.charAt(byte % 32)).join(''));
}

/** Webhook keys are bearer secrets inside the Answer URL: 40 base62 chars, about 238 random bits. */
const WEBHOOK_KEY_LENGTH = 40;

export function newWebhookKey(): string {
  return 'whk_' + randomString(BASE62, WEBHOOK_KEY_LENGTH);
}

/** A random secret for signing a tenant's API tokens: 256 bits, base64url. */
export function newApiSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A room participant's id: `web_`, `ag_` and so on, then 12 random base32 chars (60 bits). */
export function newParticipantId(prefix: string): string {
  return prefix + randomString(CROCKFORD, 12);
}

/** An agent dispatch's `jobId` (`POST /v2/agent/dispatch`). */
export const DISPATCH_JOB_ID = timeOrderedIdPattern('job_');

export function newDispatchJobId(now?: number): string {
  return timeOrderedId('job_', now);
}

/** A recording's id: time-ordered, 100 random bits after (its object key holds it, so it is not guessable either). */
export const RECORDING_ID = new RegExp(`^rec_[${CROCKFORD}]{29}$`);

export function newRecordingId(now?: number): string {
  return timeOrderedId('rec_', now, randomString(CROCKFORD, SESSION_RANDOM_CHARS));
}
