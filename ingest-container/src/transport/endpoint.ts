import type { WebSocket } from 'ws';
import type { MediaCounters } from '../metrics';
import { OutputLag } from './output-lag';

/** What each connection counts, and logs as it ends. */
export interface EndpointStats {
  framesIn: number;
  framesOut: number;
  /** Malformed messages (too many within a second close the connection with 4422). */
  badMessages: number;
  /** Output frames dropped because the peer had over a second of audio unread or its socket backed up. */
  droppedOut: number;
}

export const newStats = (): EndpointStats => ({ framesIn: 0, framesOut: 0, badMessages: 0, droppedOut: 0 });

/**
 * Beyond this much unsent audio on a socket, frames are dropped (and counted) rather than queued; and while the peer
 * has over a second of audio unread (`OutputLag`): the kernel takes far more than this first.
 */
const MAX_BUFFERED_AUDIO = 64 * 1024;
/** Text may be a control (`stop`, `hangup`, `clearAudio`) that must not be lost: dropped only once the peer stalled for long. */
const MAX_BUFFERED_TEXT = 1024 * 1024;
/** `ws.send`'s options, made once: audio is sent 50 times a second per connection. */
const AS_BINARY = { binary: true } as const;
const AS_TEXT = { binary: false } as const;

/**
 * One WebSocket the media server holds, written once for every kind (Plivo streams, room sockets, both sides of a
 * relay): the ping/terminate heartbeat, bounded sends that drop audio for a peer that is behind, and a close that is
 * safe to call in any state.
 */
export class Endpoint {
  /** Answered the last heartbeat ping. */
  private alive = true;
  private readonly lag: OutputLag | null;
  private readonly stats: EndpointStats | null;
  private readonly counters: Pick<MediaCounters, 'droppedFramesOut'> | null;

  /**
   * `stats`: where audio sent and dropped is counted; `counters`: the server's, where dropped audio is counted too.
   * `measureLag` (default true): probe how far the peer is behind on reading audio; not for a peer this server reads
   * promptly (a relay's inner socket).
   */
  constructor(
    readonly ws: WebSocket,
    options: { readonly stats?: EndpointStats; readonly counters?: Pick<MediaCounters, 'droppedFramesOut'>; readonly measureLag?: boolean } = {},
  ) {
    this.stats = options.stats ?? null;
    this.counters = options.counters ?? null;
    this.lag = options.measureLag === false ? null : new OutputLag(ws);
    ws.on('pong', () => (this.alive = true));
  }

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  /** Called every 30 s: a peer that did not answer the last ping is gone (a half-open connection); false once terminated. */
  heartbeat(): boolean {
    if (!this.alive) {
      this.ws.terminate();
      return false;
    }
    this.alive = false;
    if (this.open) this.ws.ping();
    return true;
  }

  /** Sends one frame of audio, or drops it (false) when the peer is behind or the socket is not open; counted either way. */
  sendAudio(data: string | Buffer, binary: boolean): boolean {
    if (!this.open || this.ws.bufferedAmount > MAX_BUFFERED_AUDIO || this.lag?.behind()) {
      if (this.stats) this.stats.droppedOut++;
      if (this.counters) this.counters.droppedFramesOut++;
      return false;
    }
    if (this.stats) this.stats.framesOut++;
    this.ws.send(data, binary ? AS_BINARY : AS_TEXT);
    return true;
  }

  /** Sends a control message (false when dropped: the socket is not open, or the peer has not read for long). */
  sendText(data: string | Buffer): boolean {
    if (!this.open || this.ws.bufferedAmount > MAX_BUFFERED_TEXT) return false;
    this.ws.send(data, AS_TEXT);
    return true;
  }

  sendJson(message: object): void {
    if (this.open) this.ws.send(JSON.stringify(message));
  }

  close(code: number, reason: string): void {
    if (this.open || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }
}

/**
 * Re-cuts a byte stream into whole frames of `frameBytes`: peers may send any length, the room takes 20 ms frames.
 * The rest of a message that is not a whole frame waits for the next.
 */
const NOTHING = Buffer.alloc(0);

export class FrameCutter {
  private partial: Buffer = NOTHING;

  constructor(private readonly frameBytes: number) {}

  /** True while nothing is waiting: a message of exactly one frame may then pass on as it is. */
  get empty(): boolean {
    return this.partial.length === 0;
  }

  /** Calls `frame` for each whole frame (a view, valid during the call); stops early when it returns false. */
  cut(data: Buffer, frame: (bytes: Buffer) => boolean | void): void {
    let buffer = this.partial.length ? Buffer.concat([this.partial, data]) : data;
    while (buffer.length >= this.frameBytes) {
      if (frame(buffer.subarray(0, this.frameBytes)) === false) return;
      buffer = buffer.subarray(this.frameBytes);
    }
    // A copy only of a rest that is there: messages of whole frames (nearly all) allocate nothing.
    this.partial = buffer.length ? Buffer.from(buffer) : NOTHING;
  }
}
