import type { RawData, WebSocket } from 'ws';
import { z } from 'zod';
import { ROOM_ID } from '../../../core/connectors/schema';
import type { Logger } from '../../../core/log';
import type { Placement } from '../../../core/placement';
import { agentSchema } from '../../../core/routing/schema';
import { ROOM_RATES } from '../../../core/rooms';
import { guard, INTERNAL_ERROR, type Guard } from '../guard';
import { openSocket } from '../open-socket';
import { playAudioMessage } from '../plivo/stream';
import { OutputLag } from '../room/output-lag';

/**
 * Relaying: a Plivo stream or room participant that lands on a server other than its room's is piped,
 * message for message, to the room's server over one internal WebSocket (its private address, the relay
 * port). The entry server has already authorised it (claim taken, or token checked); the owner seats it
 * as if it had connected there, from what the `x-relay-join` header says. One hop, no re-encoding.
 */
export const RELAY_HEADERS = {
  /** The owner's relay secret, from its placement record: proves the peer reads the region's table. */
  secret: 'x-relay-secret',
  /** The entry server's id, for logs. */
  from: 'x-relay-from',
  /** base64url JSON of a `RelayJoin`. */
  join: 'x-relay-join',
} as const;

const text = z.string().min(1).max(256);
export const relayJoinSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('plivo'),
    claim: z.strictObject({
      ref: text,
      callUuid: text,
      callId: text,
      tenant: text,
      connectorId: text,
      roomId: z.string().regex(ROOM_ID),
      ruleId: text.nullable(),
      region: text,
      from: z.string().max(1024),
      to: z.string().max(1024),
      expiresAtMs: z.number(),
      agent: agentSchema.nullable(),
    }),
  }),
  z.strictObject({
    type: z.literal('participant'),
    tenant: text,
    roomId: z.string().regex(ROOM_ID),
    kind: z.enum(['web', 'agent']),
    rate: z.literal(ROOM_RATES),
    wantsLevels: z.boolean(),
  }),
]);
export type RelayJoin = z.output<typeof relayJoinSchema>;

/** The tenant and room a join is for. */
export const roomOf = (join: RelayJoin): { tenant: string; roomId: string } => (join.type === 'plivo' ? join.claim : join);

/** Internal messages may carry an agent's speech sent ahead of real time (1 MB, as agents may send). */
export const RELAY_MAX_PAYLOAD = 1024 * 1024;
/**
 * Beyond this much unsent output on either side, audio is dropped (and counted) rather than queued. Binary
 * messages are always audio; text ones may be controls (`stop`, `hangup`, `clearAudio`) that must not be lost,
 * so they are only dropped when the peer has stalled for many seconds and memory must stay bounded.
 */
const MAX_BUFFERED_BYTES = 64 * 1024;
const MAX_BUFFERED_TEXT_BYTES = 1024 * 1024;
const CONNECT_TIMEOUT_MS = 2000;
/** How a relayed Plivo stream's audio to the caller starts (`playAudioMessage`); other text is control. */
/** How every `playAudio` message starts (the media server builds them all one way). */
const PLAY_AUDIO = Buffer.from(playAudioMessage('').slice(0, playAudioMessage('').indexOf(',')));
// Compared in place (no view allocated): this runs for every message relayed out.
const isPlayAudio = (data: RawData): boolean => Buffer.isBuffer(data) && data.length >= PLAY_AUDIO.length && PLAY_AUDIO.compare(data, 0, PLAY_AUDIO.length) === 0;

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
  /** Settles once both sides are closed; `lost` when the room's server vanished mid-connection. */
  readonly closed: Promise<{ lost: boolean }>;
  private outer: WebSocket | null = null;
  /**
   * How far the outer peer is behind on reading the room's audio. The owner's own measure ends at this server,
   * which reads the inner socket promptly, so audio to a slow reader is dropped here.
   */
  private outerLag: OutputLag | null = null;
  /** What the owner sent before the outer socket was accepted (e.g. the participant's `joined`). */
  private early: [RawData, boolean][] = [];
  /** Each side answered the last heartbeat ping. */
  private outerAlive = true;
  private innerAlive = true;
  private lost = false;
  /** How the owner closed the inner socket, once it has. */
  private innerClose: { code: number; reason: string } | null = null;
  /** Every socket callback of this relay runs guarded: a throw closes both sides with 1011. */
  private readonly guarded: Guard;

  private constructor(
    private readonly inner: WebSocket,
    private readonly lostClose: { code: number; reason: string },
    private readonly log: Logger,
  ) {
    const guarded = (this.guarded = guard(log, 'relay', () => this.close(INTERNAL_ERROR.code, INTERNAL_ERROR.reason)));
    inner.on(
      'message',
      guarded((data: RawData, isBinary: boolean) => (this.outer ? this.forward(this.outer, data, isBinary) : this.early.push([data, isBinary]))),
    );
    inner.on('error', (err) => log.warn('relay socket error', { err }));
    inner.on('pong', () => (this.innerAlive = true));
    this.closed = new Promise((resolve) =>
      inner.once('close', (code, reason) => {
        this.lost = code === 1006;
        this.innerClose = { code: sendable(code) ? code : 1000, reason: reason.toString() };
        const outer = this.outer;
        const settle = () => resolve({ lost: this.lost });
        if (!outer || outer.readyState === outer.CLOSED) settle();
        else outer.once('close', settle);
        try {
          if (outer && outer.readyState === outer.OPEN) {
            if (this.lost) outer.close(lostClose.code, lostClose.reason);
            else outer.close(sendable(code) ? code : 1000, reason.toString());
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
  static async open(owner: Placement, from: string, join: RelayJoin, lostClose: { code: number; reason: string }, log: Logger): Promise<Relay> {
    let relay: Relay | undefined;
    await openSocket(owner.relayUrl, {
      prepare: (inner) => (relay = new Relay(inner, lostClose, log.child({ relayTo: owner.serverId }))),
      timeoutMs: CONNECT_TIMEOUT_MS,
      maxPayload: RELAY_MAX_PAYLOAD,
      headers: {
        [RELAY_HEADERS.secret]: owner.relaySecret,
        [RELAY_HEADERS.from]: from,
        [RELAY_HEADERS.join]: Buffer.from(JSON.stringify(join)).toString('base64url'),
      },
    });
    return relay as Relay;
  }

  /** Starts piping the accepted outer socket. */
  attach(outer: WebSocket): void {
    this.outer = outer;
    this.outerLag = new OutputLag(outer);
    for (const [data, isBinary] of this.early) this.forward(outer, data, isBinary);
    this.early = [];
    outer.on(
      'message',
      this.guarded((data: RawData, isBinary: boolean) => this.forward(this.inner, data, isBinary)),
    );
    outer.on('pong', () => (this.outerAlive = true));
    outer.on('error', (err) => this.log.warn('relayed socket error', { err }));
    outer.once(
      'close',
      this.guarded((code: number, reason: Buffer) => {
        if (this.inner.readyState === this.inner.OPEN) this.inner.close(sendable(code) ? code : 1000, reason.toString());
      }),
    );
    // The owner closed before the outer socket was accepted (a call turned away from a full room, say): its code goes on.
    // Still closing, the inner socket's close handler passes it on.
    if (this.inner.readyState === this.inner.CLOSED) {
      const { code, reason } = !this.lost && this.innerClose ? this.innerClose : this.lostClose;
      outer.close(code, reason);
    }
  }

  /**
   * Called every 30 s: a side that did not answer the last ping is gone (a half-open connection; a room
   * server that vanished without closing counts as lost).
   */
  heartbeat(): void {
    const outer = this.outer;
    if (!this.innerAlive) return void this.inner.terminate();
    if (outer && !this.outerAlive) return void outer.terminate();
    this.innerAlive = this.outerAlive = false;
    if (this.inner.readyState === this.inner.OPEN) this.inner.ping();
    if (outer && outer.readyState === outer.OPEN) outer.ping();
  }

  /** Ends both sides (this server is shutting down). */
  close(code: number, reason: string): void {
    const outer = this.outer;
    if (outer && outer.readyState === outer.OPEN) outer.close(code, reason);
    if (this.inner.readyState === this.inner.OPEN) this.inner.close(code, reason);
  }

  private forward(to: WebSocket, data: RawData, isBinary: boolean): void {
    if (
      to.readyState !== to.OPEN ||
      to.bufferedAmount > (isBinary ? MAX_BUFFERED_BYTES : MAX_BUFFERED_TEXT_BYTES) ||
      (to === this.outer && (isBinary || isPlayAudio(data)) && this.outerLag?.behind())
    ) {
      this.stats.dropped++;
      return;
    }
    this.stats.forwarded++;
    to.send(data as Buffer, { binary: isBinary });
  }
}
