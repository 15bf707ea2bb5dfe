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

/** `media`'s base64 payload and how many bytes it holds; null when it is not valid base64. */
export function mediaOf({ media }: PlivoMessage): { base64: string; bytes: number } | null {
  const payload = media?.payload;
  if (typeof payload !== 'string' || payload.length % 4 !== 0 || !BASE64.test(payload)) return null;
  return { base64: payload, bytes: (payload.length / 4) * 3 - (payload.endsWith('==') ? 2 : payload.endsWith('=') ? 1 : 0) };
}

/** `dtmf`'s digit; null when it is not one of `0-9 * # A-D`. */
export const dtmfOf = ({ dtmf }: PlivoMessage): string | null => (typeof dtmf?.digit === 'string' && DTMF_DIGIT.test(dtmf.digit) ? dtmf.digit : null);

/** `playedStream`'s checkpoint name; null when missing. */
export const playedOf = ({ name }: PlivoMessage): string | null => (typeof name === 'string' ? name : null);

/** Plivo's `playAudio` of one mu-law frame, as text (built by concatenation: it is sent 50 times a second per call). */
export const playAudioMessage = (base64: string): string =>
  '{"event":"playAudio","media":{"contentType":"audio/x-mulaw","sampleRate":8000,"payload":"' + base64 + '"}}';

export const clearAudioMessage = (streamId: string): string => JSON.stringify({ event: 'clearAudio', streamId });
export const sendDtmfMessage = (digits: string): string => JSON.stringify({ event: 'sendDTMF', dtmf: digits });
export const checkpointMessage = (streamId: string, name: string): string => JSON.stringify({ event: 'checkpoint', streamId, name });

/** How every `playAudio` message starts (this module builds them all one way). */
const PLAY_AUDIO = Buffer.from(playAudioMessage('').slice(0, playAudioMessage('').indexOf(',')));

/** A `playAudio` message (audio to the caller, which may be dropped for a slow reader); compared in place, no view allocated. */
export const isPlayAudio = (data: RawData): boolean => Buffer.isBuffer(data) && data.length >= PLAY_AUDIO.length && PLAY_AUDIO.compare(data, 0, PLAY_AUDIO.length) === 0;
