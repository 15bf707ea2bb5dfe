import type { RawData } from 'ws';

/**
 * Plivo's audio stream wire format, in one module (`/work/shared/reference/plivo-protocol.md` section 4): parsing and
 * validating what Plivo sends, building what is sent to it, recognising it in transit. Nothing else spells its fields.
 */

/** A message from Plivo, as parsed: each field still to be checked by its reader below. */
export interface PlivoMessage {
  readonly event?: unknown;
  readonly start?: { readonly callId?: unknown; readonly streamId?: unknown };
  readonly media?: { readonly payload?: unknown };
  readonly dtmf?: { readonly digit?: unknown };
  readonly name?: unknown;
  /** `start`'s: the `<Stream>`'s `extraHeaders`, `;`-separated (`a=1;b=2`). */
  readonly extra_headers?: unknown;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DTMF_DIGIT = /^[0-9*#A-D]$/;

/** Parses one message: the message, or why it is malformed. */
export function parseMessage(data: Buffer, isBinary: boolean): PlivoMessage | string {
  if (isBinary) return 'a binary frame: Plivo sends JSON text';
  let message: unknown;
  try {
    message = JSON.parse(data.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  if (typeof message !== 'object' || message === null) return 'not a JSON object';
  return message;
}

/** The event's name for a log line (not String(event): an object with its own "toString" key throws when made a string). */
export const eventName = ({ event }: PlivoMessage): string => (typeof event === 'string' ? event.slice(0, 64) : typeof event);

/** `start`'s CallUUID (null when missing) and stream id. */
export const startOf = ({ start }: PlivoMessage): { callId: string | null; streamId: string } => ({
  callId: typeof start?.callId === 'string' ? start.callId : null,
  streamId: typeof start?.streamId === 'string' ? start.streamId : '',
});

/** At most this many of `start`'s `extra_headers` are read, names of 1-58 characters (`[A-Za-z0-9-]`), values cut to 256. */
export const MAX_EXTRA_HEADERS = 32;
const EXTRA_HEADER = /^([A-Za-z0-9-]{1,58})=(.+)$/s;
const MAX_EXTRA_HEADER_VALUE = 256;

/**
 * `start`'s `extra_headers` (the `<Stream>`'s `extraHeaders`, which Plivo delivers `;`-separated) as name-value pairs,
 * in order, bounded: entries that are no `name=value` are passed over. Empty when there are none.
 */
export function extraHeadersOf({ extra_headers: raw }: PlivoMessage): [string, string][] {
  if (typeof raw !== 'string' || raw === '') return [];
  const headers: [string, string][] = [];
  for (const entry of raw.split(';', MAX_EXTRA_HEADERS * 2)) {
    const match = EXTRA_HEADER.exec(entry.trim());
    if (match) headers.push([match[1] as string, (match[2] as string).slice(0, MAX_EXTRA_HEADER_VALUE)]);
    if (headers.length === MAX_EXTRA_HEADERS) break;
  }
  return headers;
}

/**
 * A `start` as Plivo sends it, for call `callId`'s stream `streamId`: what a switched call's leg to a room on another
 * server opens with there (the socket that server gets is a relay, and a Plivo stream starts with `start`).
 */
export const startMessage = (callId: string, streamId: string): string =>
  JSON.stringify({ event: 'start', sequenceNumber: 0, start: { callId, streamId, tracks: ['inbound'], mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 } } });

/** A `media` message's audio: its base64 payload and how many bytes that holds. */
export interface MediaPayload {
  readonly base64: string;
  readonly bytes: number;
}

/** `media`'s base64 payload and how many bytes it holds; null when it is not valid base64. */
export function mediaOf({ media }: PlivoMessage): MediaPayload | null {
  const payload = media?.payload;
  if (typeof payload !== 'string' || payload.length % 4 !== 0 || !BASE64.test(payload)) return null;
  return { base64: payload, bytes: (payload.length / 4) * 3 - (payload.endsWith('==') ? 2 : payload.endsWith('=') ? 1 : 0) };
}

/*
 * The fast path: nearly every message is a `media` frame (50 a second per call), and a frame forwarded to another
 * 8 kHz caller needs nothing from it but the payload's text. `mediaFrameOf` reads that straight from the message's
 * bytes: no string of the whole message, no parsed object. It walks the whole message as JSON (any key order, any
 * other members, nested up to SKIPPED_DEPTH), so it accepts only what `JSON.parse` would, and only messages for which
 * `parseMessage` + `mediaOf` give the same payload: `event` exactly "media" and `media` an object with exactly one
 * `payload`, valid base64 without escapes, each key once. Anything else (an escaped key, a duplicated key, deeper
 * nesting, a payload the full path refuses) it declines, and the full parser decides as before.
 */

/** Containers nested deeper than this in a member the fast path skips send the message to the full parser. */
const SKIPPED_DEPTH = 8;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const EQUALS = 0x3d;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const EVENT = Buffer.from('event');
const MEDIA = Buffer.from('media');
const PAYLOAD = Buffer.from('payload');
const MEDIA_VALUE = Buffer.from('"media"');
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

/** Per byte: 1 a base64 digit, 2 a hex digit as well (A-F, a-f, 0-9), 4 a decimal digit as well. */
const CLASS = new Uint8Array(256);
for (const c of Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/')) CLASS[c] = 1;
for (const c of Buffer.from('ABCDEFabcdef')) CLASS[c] = 3;
for (const c of Buffer.from('0123456789')) CLASS[c] = 7;
/** JSON's one-character escapes after a backslash: `" \ / b f n r t`. */
const ESCAPE = new Uint8Array(256);
for (const c of Buffer.from('"\\/bfnrt')) ESCAPE[c] = 1;

function isDigit(c: number | undefined): boolean {
  return c !== undefined && (CLASS[c] as number) === 7;
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** What the walk of the current message has met (one message at a time: JavaScript runs one call at a time). */
let seenEvent = false;
let seenMedia = false;
let payloadStart = -1;
let payloadEnd = -1;
let padding = 0;

/** Reads a member's value at `at`, key `[keyStart, keyEnd)`: the index just past it, or -1 when the message is declined. */
type Member = (d: Buffer, keyStart: number, keyEnd: number, at: number) => number;

function spaceEnd(d: Buffer, i: number): number {
  while (isSpace(d[i])) i++;
  return i;
}

/** `d` holds `bytes` at `i` (compared here: a native call costs more than these few bytes). */
function holds(d: Buffer, i: number, bytes: Buffer): boolean {
  if (i + bytes.length > d.length) return false;
  for (let k = 0; k < bytes.length; k++) if (d[i + k] !== bytes[k]) return false;
  return true;
}

function keyIs(d: Buffer, start: number, end: number, key: Buffer): boolean {
  return end - start === key.length && holds(d, start, key);
}

/** Past the string at `i` (a quote); -1 when it is not a JSON string, or has an escape and `plain` (keys are compared as bytes). */
function stringEnd(d: Buffer, i: number, plain: boolean): number {
  for (i++; i < d.length; i++) {
    const c = d[i] as number;
    // Most characters: above the quote (so no control character either), not a backslash.
    if (c > QUOTE && c !== BACKSLASH) continue;
    if (c === QUOTE) return i + 1;
    if (c < 0x20) return -1;
    if (c === BACKSLASH) {
      if (plain) return -1;
      const e = d[++i];
      if (e === 0x75) {
        for (const end = i + 4; i < end; ) if (!((CLASS[d[++i] ?? 0] as number) & 2)) return -1;
      } else if (e === undefined || ESCAPE[e] !== 1) return -1;
    }
  }
  return -1;
}

/** Past the number at `i` (JSON's grammar: no leading zeros, no bare dot, no `+`); -1 when there is none. */
function numberEnd(d: Buffer, i: number): number {
  if (d[i] === 0x2d) i++;
  if (d[i] === 0x30) i++;
  else if (isDigit(d[i])) while (isDigit(d[i])) i++;
  else return -1;
  if (d[i] === 0x2e) {
    if (!isDigit(d[++i])) return -1;
    while (isDigit(d[i])) i++;
  }
  if (d[i] === 0x65 || d[i] === 0x45) {
    if (d[++i] === 0x2b || d[i] === 0x2d) i++;
    if (!isDigit(d[i])) return -1;
    while (isDigit(d[i])) i++;
  }
  return i;
}

function literalEnd(d: Buffer, i: number, literal: Buffer): number {
  return holds(d, i, literal) ? i + literal.length : -1;
}

/** Past any JSON value at `i`, containers in it at most `depth` deep; -1 when there is none. */
function valueEnd(d: Buffer, i: number, depth: number): number {
  switch (d[i]) {
    case QUOTE:
      return stringEnd(d, i, false);
    case OPEN_BRACE:
      return depth > 0 ? objectEnd(d, i, depth - 1, null) : -1;
    case OPEN_BRACKET:
      return depth > 0 ? arrayEnd(d, i, depth - 1) : -1;
    case 0x74:
      return literalEnd(d, i, TRUE);
    case 0x66:
      return literalEnd(d, i, FALSE);
    case 0x6e:
      return literalEnd(d, i, NULL);
    case undefined:
      return -1;
    default:
      return numberEnd(d, i);
  }
}

/** Past the array at `i` (a bracket); -1 when it is not a JSON array of values at most `depth` deep. */
function arrayEnd(d: Buffer, i: number, depth: number): number {
  i = spaceEnd(d, i + 1);
  if (d[i] === CLOSE_BRACKET) return i + 1;
  for (;;) {
    i = valueEnd(d, i, depth);
    if (i < 0) return -1;
    i = spaceEnd(d, i);
    if (d[i] !== COMMA) return d[i] === CLOSE_BRACKET ? i + 1 : -1;
    i = spaceEnd(d, i + 1);
  }
}

/**
 * Past the object at `i` (a brace); -1 when it is not a JSON object or `member` declines. Each member's value is read by
 * `member`, its key unescaped (an escaped key might spell one the fast path looks for); null: skipped, any keys.
 */
function objectEnd(d: Buffer, i: number, depth: number, member: Member | null): number {
  i = spaceEnd(d, i + 1);
  if (d[i] === CLOSE_BRACE) return i + 1;
  for (;;) {
    if (d[i] !== QUOTE) return -1;
    const keyEnd = stringEnd(d, i, member !== null) - 1;
    if (keyEnd < 0) return -1;
    const at = spaceEnd(d, keyEnd + 1);
    if (d[at] !== COLON) return -1;
    i = member ? member(d, i + 1, keyEnd, spaceEnd(d, at + 1)) : valueEnd(d, spaceEnd(d, at + 1), depth);
    if (i < 0) return -1;
    i = spaceEnd(d, i);
    if (d[i] !== COMMA) return d[i] === CLOSE_BRACE ? i + 1 : -1;
    i = spaceEnd(d, i + 1);
  }
}

/** A top-level member: `event` must be "media" and `media` an object, each once; the rest is skipped. */
function messageMember(d: Buffer, keyStart: number, keyEnd: number, at: number): number {
  if (keyIs(d, keyStart, keyEnd, EVENT)) {
    if (seenEvent) return -1;
    seenEvent = true;
    return literalEnd(d, at, MEDIA_VALUE);
  }
  if (keyIs(d, keyStart, keyEnd, MEDIA)) {
    if (seenMedia || d[at] !== OPEN_BRACE) return -1;
    seenMedia = true;
    return objectEnd(d, at, SKIPPED_DEPTH, mediaMember);
  }
  return valueEnd(d, at, SKIPPED_DEPTH);
}

/** A member of `media`: `payload` once, a string of base64 digits and at most two `=`; the rest is skipped. */
function mediaMember(d: Buffer, keyStart: number, keyEnd: number, at: number): number {
  if (!keyIs(d, keyStart, keyEnd, PAYLOAD)) return valueEnd(d, at, SKIPPED_DEPTH);
  if (payloadStart >= 0 || d[at] !== QUOTE) return -1;
  let i = at + 1;
  // Four at a time (a payload is a multiple of four characters), then one at a time.
  for (const last = d.length - 4; i <= last && ((CLASS[d[i] as number] as number) & (CLASS[d[i + 1] as number] as number) & (CLASS[d[i + 2] as number] as number) & (CLASS[d[i + 3] as number] as number) & 1) === 1; ) i += 4;
  while (i < d.length && ((CLASS[d[i] as number] as number) & 1) === 1) i++;
  const digitsEnd = i;
  while (d[i] === EQUALS && i - digitsEnd < 2) i++;
  if (d[i] !== QUOTE) return -1;
  payloadStart = at + 1;
  payloadEnd = i;
  padding = i - digitsEnd;
  return i + 1;
}

/**
 * A plain `media` message's payload, read from its bytes without parsing it; null when the message is anything else
 * (another event, or a `media` message the full path must judge): then `parseMessage` decides.
 */
export function mediaFrameOf(data: Buffer, isBinary: boolean): MediaPayload | null {
  if (isBinary) return null;
  seenEvent = seenMedia = false;
  payloadStart = payloadEnd = -1;
  const start = spaceEnd(data, 0);
  if (data[start] !== OPEN_BRACE) return null;
  const end = objectEnd(data, start, SKIPPED_DEPTH, messageMember);
  if (end < 0 || spaceEnd(data, end) !== data.length || !seenEvent || payloadStart < 0) return null;
  const length = payloadEnd - payloadStart;
  if (length % 4 !== 0) return null;
  return { base64: data.toString('latin1', payloadStart, payloadEnd), bytes: (length / 4) * 3 - padding };
}

/** `dtmf`'s digit; null when it is not one of `0-9 * # A-D`. */
export const dtmfOf = ({ dtmf }: PlivoMessage): string | null => (typeof dtmf?.digit === 'string' && DTMF_DIGIT.test(dtmf.digit) ? dtmf.digit : null);

/** `playedStream`'s checkpoint name; null when missing. */
export const playedOf = ({ name }: PlivoMessage): string | null => (typeof name === 'string' ? name : null);

/** Plivo's `playAudio` of one mu-law frame, as text. */
export const playAudioMessage = (base64: string): string =>
  '{"event":"playAudio","media":{"contentType":"audio/x-mulaw","sampleRate":8000,"payload":"' + base64 + '"}}';

/** `playAudioMessage` around an empty payload, split where the payload goes. */
const PLAY_AUDIO_HEAD = Buffer.from(playAudioMessage('').slice(0, -'"}}'.length));
const PLAY_AUDIO_TAIL = Buffer.from('"}}');

/**
 * `playAudioMessage` as the bytes sent (50 times a second per call): fixed head and tail around the payload, written
 * into one buffer that the socket writes as it is, rather than a string it must measure and encode.
 */
export function playAudioFrame(base64: string): Buffer {
  const frame = Buffer.allocUnsafe(PLAY_AUDIO_HEAD.length + base64.length + PLAY_AUDIO_TAIL.length);
  PLAY_AUDIO_HEAD.copy(frame, 0);
  frame.write(base64, PLAY_AUDIO_HEAD.length, 'latin1');
  PLAY_AUDIO_TAIL.copy(frame, PLAY_AUDIO_HEAD.length + base64.length);
  return frame;
}

export const clearAudioMessage = (streamId: string): string => JSON.stringify({ event: 'clearAudio', streamId });
export const sendDtmfMessage = (digits: string): string => JSON.stringify({ event: 'sendDTMF', dtmf: digits });
export const checkpointMessage = (streamId: string, name: string): string => JSON.stringify({ event: 'checkpoint', streamId, name });

/** How every `playAudio` message starts (this module builds them all one way). */
const PLAY_AUDIO = Buffer.from(playAudioMessage('').slice(0, playAudioMessage('').indexOf(',')));

/** A `playAudio` message (audio to the caller, which may be dropped for a slow reader); compared in place, no view allocated. */
export const isPlayAudio = (data: RawData): boolean => Buffer.isBuffer(data) && data.length >= PLAY_AUDIO.length && PLAY_AUDIO.compare(data, 0, PLAY_AUDIO.length) === 0;
