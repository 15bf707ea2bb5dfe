import type { RawData, WebSocket } from 'ws';
import type { Logger } from '../../../core/log';
import type { Placement } from '../../../core/placement';
import type { Join } from '../admission/join';
import { isPlayAudio } from '../plivo/protocol';
import { CLOSE, INTERNAL_ERROR, NO_CLOSE_FRAME } from '../transport/close-codes';
import { Endpoint } from '../transport/endpoint';
import { guard, type Guard } from '../transport/guard';
import { openSocket } from '../transport/open-socket';
import type { RelayAuth } from './relay-auth';

/**
 * Relaying: a Plivo stream or room participant that lands on a server other than its room's is piped,
 * message for message, to the room's server over one internal WebSocket (its private address, the relay
 * port). The entry server has already authorised it (claim taken, or token checked); the owner seats it
 * as if it had connected there, from the join the entry server signed (`RelayAuth`). One hop, no re-encoding.
 */

/** Internal messages may carry an agent's speech sent ahead of real time (1 MB, as agents may send). */
export const RELAY_MAX_PAYLOAD = 1024 * 1024;
const CONNECT_TIMEOUT_MS = 2000;

/** Close codes a peer may send (RFC 6455 7.4): 1005 and 1006 only report that none came. */
const sendable = (code: number) => (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) || (code >= 3000 && code <= 4999);

export interface RelayStats {
  forwarded: number;
  dropped: number;
}

/**
 * One relayed connection, seen from the entry server: the outer socket (Plivo's or a participant's) and the
 * inner one to the room's server. Closes travel across with their code; if the owner's side drops with no
 * close (its server died), the outer socket is closed with `lostCode` and `closed` says the owner was lost.
 */
export class Relay {
  readonly stats: RelayStats = { forwarded: 0, dropped: 0 };
  /** Settles once both sides are closed; `lost` when the room's server vanished mid-connection; `code`: how the room's server closed it. */
  readonly closed: Promise<{ lost: boolean; code: number }>;
  /**
   * The outer socket, once accepted. How far its peer is behind on reading the room's audio is measured here: the
   * owner's own measure ends at this server, which reads the inner socket promptly, so audio to a slow reader is dropped here.
   */
  private outer: Endpoint | null = null;
  private readonly inner: Endpoint;
  /** What the owner sent before the outer socket was accepted (e.g. the participant's `joined`). */
  private early: [RawData, boolean][] = [];
  private lost = false;
  /** Told how the owner closed the inner socket, before the outer one is closed with it (a switched call's stream). */
  private onInnerClose: ((code: number, lost: boolean) => void) | null = null;
  /** How the owner closed the inner socket, once it has. */
  private innerClose: { code: number; reason: string } | null = null;
  /** Every socket callback of this relay runs guarded: a throw closes both sides with 1011. */
  private readonly guarded: Guard;

  private constructor(
    inner: WebSocket,
    private readonly lostClose: { code: number; reason: string },
    private readonly log: Logger,
  ) {
    const guarded = (this.guarded = guard(log, 'relay', () => this.close(INTERNAL_ERROR.code, INTERNAL_ERROR.reason)));
    this.inner = new Endpoint(inner, { measureLag: false });
    inner.on(
      'message',
      guarded((data: RawData, isBinary: boolean) => (this.outer ? this.forward(this.outer, data, isBinary) : this.early.push([data, isBinary]))),
    );
    inner.on('error', (err) => log.warn('relay socket error', { err }));
    this.closed = new Promise((resolve) =>
      inner.once('close', (code, reason) => {
        this.lost = code === NO_CLOSE_FRAME;
        this.innerClose = { code: sendable(code) ? code : CLOSE.ended, reason: reason.toString() };
        this.onInnerClose?.(code, this.lost);
        const outer = this.outer?.ws;
        const settle = () => resolve({ lost: this.lost, code });
        if (!outer || outer.readyState === outer.CLOSED) settle();
        else outer.once('close', settle);
        try {
          if (outer && outer.readyState === outer.OPEN) {
            if (this.lost) outer.close(lostClose.code, lostClose.reason);
            else outer.close(sendable(code) ? code : CLOSE.ended, reason.toString());
          }
          if (this.lost && outer) log.error("relay lost: the room's media server is gone", { ...this.stats });
        } catch (err) {
          // `closed` settles whatever happens here: the server counts on it to let the connection go.
          log.error('relay close failed', { err });
          outer?.terminate();
        }
      }),
    );
  }

  /** Opens the inner socket to the room's server; rejects when it cannot be reached or refuses. */
  static async open(owner: Placement, auth: RelayAuth, join: Join, lostClose: { code: number; reason: string }, log: Logger): Promise<Relay> {
    let relay: Relay | undefined;
    await openSocket(owner.relayUrl, {
      prepare: (inner) => (relay = new Relay(inner, lostClose, log.child({ relayTo: owner.serverId }))),
      timeoutMs: CONNECT_TIMEOUT_MS,
      maxPayload: RELAY_MAX_PAYLOAD,
      headers: await auth.headersFor(owner, Buffer.from(JSON.stringify(join)).toString('base64url')),
    });
    return relay as Relay;
  }

  /** The outer socket was accepted. */
  get attached(): boolean {
    return this.outer !== null;
  }

  /** Starts piping the accepted outer socket. */
  attach(outer: WebSocket): void {
    const endpoint = (this.outer = new Endpoint(outer));
    for (const [data, isBinary] of this.early) this.forward(endpoint, data, isBinary);
    this.early = [];
    outer.on(
      'message',
      this.guarded((data: RawData, isBinary: boolean) => this.forward(this.inner, data, isBinary)),
    );
    outer.on('error', (err) => this.log.warn('relayed socket error', { err }));
    outer.once(
      'close',
      this.guarded((code: number, reason: Buffer) => {
        this.inner.close(sendable(code) ? code : CLOSE.ended, reason.toString());
      }),
    );
    // The owner closed before the outer socket was accepted (a call turned away from a full room, say): its code goes on.
    // Still closing, the inner socket's close handler passes it on.
    if (this.inner.ws.readyState === this.inner.ws.CLOSED) {
      const { code, reason } = !this.lost && this.innerClose ? this.innerClose : this.lostClose;
      outer.close(code, reason);
    }
  }

  /**
   * Pipes a call's stream switched into a room of the relay's server: `outer` is the stream's own endpoint, which
   * goes on reading its socket and passes the caller's messages on with `toRoom`; the room's go to it from here.
   * `onClose` hears how the room's server closed the leg, before the stream is closed with that code.
   */
  adopt(outer: Endpoint, onClose: (code: number, lost: boolean) => void): void {
    this.outer = outer;
    this.onInnerClose = onClose;
    for (const [data, isBinary] of this.early) this.forward(outer, data, isBinary);
    this.early = [];
  }

  /** One of the adopted stream's messages, to the room's server. */
  toRoom(data: RawData | string, isBinary: boolean): void {
    this.forward(this.inner, data as RawData, isBinary);
  }

  /** The adopted stream leaves (for another room, or it ended): the inner side is closed, the stream's own left open. */
  release(code: number, reason: string): void {
    this.outer = null;
    this.onInnerClose = null;
    this.inner.close(code, reason);
  }

  /**
   * Called every 30 s: a side that did not answer the last ping is gone (a half-open connection; a room
   * server that vanished without closing counts as lost).
   */
  heartbeat(): void {
    if (this.inner.heartbeat()) this.outer?.heartbeat();
  }

  /** Called every 30 s for an adopted stream's leg: the room's server did not answer the last ping, it is gone (lost). */
  heartbeatRoom(): void {
    this.inner.heartbeat();
  }

  /** Ends both sides (this server is shutting down). */
  close(code: number, reason: string): void {
    if (this.outer?.open) this.outer.close(code, reason);
    if (this.inner.open) this.inner.close(code, reason);
  }

  /** Audio to a slow outer reader is dropped; text (controls, events) only once its peer stalled for long. */
  private forward(to: Endpoint, data: RawData, isBinary: boolean): void {
    const audio = isBinary || (to === this.outer && isPlayAudio(data));
    if (audio ? to.sendAudio(data as Buffer, isBinary) : to.sendText(data as Buffer)) this.stats.forwarded++;
    else this.stats.dropped++;
  }
}
