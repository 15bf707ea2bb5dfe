import type { WebSocket } from 'ws';

/** A lag probe goes out once this many frames (1 s of audio) were sent since the last one, and none is out. */
const PROBE_EVERY_FRAMES = 50;
/** A peer that has not answered a probe sent this many frames ago (1 s of audio) is behind: frames are dropped. */
const MAX_LAG_FRAMES = 50;
const PROBE_PREFIX = 'lag:';
/** A probe unanswered this long is sent again. */
const REPROBE_MS = 2000;

/**
 * How far behind a peer is on reading what it was sent, measured with WebSocket pings: a ping queues behind
 * every message sent before it, so its pong comes back only once the peer has read them all. Counted in frames
 * sent, not time, so a stall of this server's own event loop is never taken for the peer's. A socket's
 * `bufferedAmount` cannot tell: what the peer does not read goes into the kernel's send buffer, which Linux
 * grows up to `tcp_wmem`'s maximum (4 MB: 40 s of 48 kHz audio, minutes of a call's) before anything stays
 * in Node's. Only a peer that has answered a probe is ever judged behind: one that does not answer pings is
 * left to `bufferedAmount`.
 */
export class OutputLag {
  /** Frames sent since the probe that is out; null when none is out. */
  private unanswered: number | null = null;
  private sinceProbe = PROBE_EVERY_FRAMES;
  private probes = 0;
  private answers = false;
  private probedAt = 0;

  constructor(private readonly ws: WebSocket) {
    ws.on('pong', (data: Buffer) => {
      if (this.unanswered === null || data.toString() !== `${PROBE_PREFIX}${this.probes}`) return;
      this.unanswered = null;
      this.answers = true;
    });
  }

  /**
   * Call for each frame about to be sent: true when it is to be dropped (the peer has over a second of audio
   * unread), else it is counted as sent, after the next probe when one is due.
   */
  behind(): boolean {
    if (this.unanswered !== null && this.answers && this.unanswered >= MAX_LAG_FRAMES) {
      // A peer may answer only the latest of several pings (RFC 6455, 5.5.3), and heartbeats ping too:
      // a probe still unanswered after a while is sent again, so a pong that went astray is not fatal.
      if (performance.now() - this.probedAt >= REPROBE_MS) this.probe();
      return true;
    }
    if (this.unanswered === null && this.sinceProbe >= PROBE_EVERY_FRAMES && this.probe()) this.unanswered = this.sinceProbe = 0;
    if (this.unanswered !== null) this.unanswered++;
    this.sinceProbe++;
    return false;
  }

  /** Pings with the next probe's number (only the latest probe's pong counts); false when the socket is not open. */
  private probe(): boolean {
    if (this.ws.readyState !== this.ws.OPEN) return false;
    this.ws.ping(`${PROBE_PREFIX}${++this.probes}`);
    this.probedAt = performance.now();
    return true;
  }
}
