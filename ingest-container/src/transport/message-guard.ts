import type { WebSocket } from 'ws';
import type { Logger } from '../../../core/log';
import { CLOSE, INTERNAL_ERROR } from './close-codes';
import { coarseSeconds, FloodMeter } from './flood-meter';

/** Malformed messages within one second beyond which a peer is broken or hostile, not unlucky: closed with 4422. */
export const BAD_MESSAGES_PER_SECOND = 20;
/** A connection's first few malformed messages are logged one by one; later ones as a count, at most every 10 s. */
const LOGGED_ONE_BY_ONE = 5;
const SUMMARY_EVERY_SECONDS = 10;

export interface MessageGuardOptions {
  /** The connection kind, as log messages name it: `room socket`, `plivo stream`. */
  readonly label: string;
  /** Messages of any kind within one second beyond which the peer is flooding. */
  readonly messagesPerSecond: number;
  /** The connection's stats: malformed messages are counted there, and logged with the rest as it ends. */
  readonly stats: { badMessages: number };
  /** Ends the connection with `CLOSE.flood`, `CLOSE.badMessages` or `CLOSE.error` (each kind records why in its own way). */
  readonly close: (code: number, reason: string) => void;
}

/**
 * What every WebSocket kind of the media server does around each message, written once: the message-rate limit
 * (the audio meters count bytes, so a flood of tiny messages passes them), the error guard (a message that trips a
 * bug ends that one connection with 1011, never the process), and bad-message accounting (a limit, and logs that stay
 * a few lines however many arrive, with no stacks: a peer's malformed message is not our fault). Per message it costs
 * a count and a comparison.
 */
export class MessageGuard {
  private readonly rate: FloodMeter;
  private readonly badRate = new FloodMeter(BAD_MESSAGES_PER_SECOND, 1);
  /** Malformed messages since the last one logged. */
  private unlogged = 0;
  private loggedAt = coarseSeconds();

  constructor(
    private readonly ws: WebSocket,
    private readonly log: Logger,
    private readonly options: MessageGuardOptions,
  ) {
    this.rate = new FloodMeter(options.messagesPerSecond, 1);
    // A peer's protocol fault (a message over maxPayload, bad framing, bad UTF-8): ws closes the socket after it.
    ws.on('error', (err: Error & { code?: string }) => log.warn(`${options.label} socket error`, { code: err.code, what: err.message }));
  }

  /** Hands each message to `handle` while the connection is open and within its message rate. */
  listen(handle: (data: Buffer, isBinary: boolean) => void): void {
    const { close, label, messagesPerSecond } = this.options;
    this.ws.on('message', (data, isBinary) => {
      // Messages read before the connection began closing are not acted on.
      if (this.ws.readyState !== this.ws.OPEN) return;
      if (this.rate.exceeded(1)) return close(CLOSE.flood, `more than ${messagesPerSecond} messages a second`);
      // Inline rather than `guard()` from ./guard, which allocates a closure per call: this runs for every audio frame.
      try {
        handle(data as Buffer, isBinary);
      } catch (err) {
        this.log.error(`${label}: message handling failed`, { err });
        close(INTERNAL_ERROR.code, INTERNAL_ERROR.reason);
      }
    });
  }

  /** Counts a malformed message (`what` says how it was); true while the connection goes on, false once it is closed for too many. */
  bad(what: string): boolean {
    const { stats, label, close } = this.options;
    const badMessages = ++stats.badMessages;
    if (this.badRate.exceeded(1)) {
      close(CLOSE.badMessages, `more than ${BAD_MESSAGES_PER_SECOND} malformed messages a second`);
      return false;
    }
    this.unlogged++;
    const now = coarseSeconds();
    if (badMessages <= LOGGED_ONE_BY_ONE || now - this.loggedAt >= SUMMARY_EVERY_SECONDS) {
      this.log.warn(`${label}: bad messages ignored`, { what, count: this.unlogged, badMessages });
      this.unlogged = 0;
      this.loggedAt = now;
    }
    return true;
  }
}
