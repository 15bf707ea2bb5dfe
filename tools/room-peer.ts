import { WebSocket } from 'ws';
import type { SampleRate } from '../core/rooms';
import { concat, paced } from './audio';

/** A JSON message of the room protocol (`docs/room-protocol.md`). */
export interface RoomMessage {
  readonly type: string;
  readonly [field: string]: unknown;
}

export interface JoinOptions {
  readonly token: string;
  readonly sampleRate?: SampleRate;
  readonly kind?: 'web' | 'agent';
  /** Send the token as `?token=` instead of `Authorization: Bearer`. */
  readonly tokenInQuery?: boolean;
}

/**
 * A room participant speaking the room protocol over any WebSocket: one that joined `/rooms/{id}`, or
 * the agent end of a socket the bridge dialled. Keeps every message and frame it receives.
 */
export class RoomPeer {
  readonly messages: RoomMessage[] = [];
  /** 20 ms PCM frames received, with their arrival times (performance.now()). */
  readonly frames: { readonly at: number; readonly pcm: Int16Array }[] = [];
  closeCode: number | null = null;
  private readonly waiters = new Set<() => void>();
  private echoing = false;

  constructor(
    private readonly ws: WebSocket,
    readonly sampleRate: SampleRate,
  ) {
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        const pcm = new Int16Array(data.length / 2);
        Buffer.from(pcm.buffer).set(data);
        this.frames.push({ at: performance.now(), pcm });
        if (this.echoing) this.sendFrame(pcm);
      } else this.messages.push(JSON.parse(data.toString('utf8')) as RoomMessage);
      for (const wake of this.waiters) wake();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      for (const wake of this.waiters) wake();
    });
  }

  /** Joins `roomId` on the media server at `mediaUrl` (ws://host) and waits for `joined`. */
  static async join(mediaUrl: string, roomId: string, options: JoinOptions): Promise<RoomPeer> {
    const rate = options.sampleRate ?? 16000;
    const query = new URLSearchParams({ sampleRate: String(rate), ...(options.kind && { kind: options.kind }), ...(options.tokenInQuery && { token: options.token }) });
    const ws = new WebSocket(`${mediaUrl}/rooms/${encodeURIComponent(roomId)}?${query.toString()}`, {
      headers: options.tokenInQuery ? {} : { authorization: `Bearer ${options.token}` },
    });
    const peer = new RoomPeer(ws, rate);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => reject(Object.assign(new Error(`room join refused: ${res.statusCode} ${body}`), { status: res.statusCode })));
      });
      ws.once('error', reject);
    });
    await peer.next('joined');
    return peer;
  }

  /** The first message of `type` (matching `match`), waiting up to `timeoutMs` for it. */
  next(type: string, match: (message: RoomMessage) => boolean = () => true, timeoutMs = 5000): Promise<RoomMessage> {
    return this.until(() => this.messages.find((m) => m.type === type && match(m)), `a "${type}" message`, timeoutMs);
  }

  /** Resolves with `probe()`'s first defined value, re-checked on every message; rejects after `timeoutMs`. */
  until<T>(probe: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (this.closeCode !== null) {
          done();
          reject(new Error(`socket closed (${this.closeCode}) while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** From now on sends each frame it hears straight back: the others in the room then hear the room, themselves included. */
  echo(): void {
    this.echoing = true;
  }

  control(message: RoomMessage): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Sends anything, as is: for testing what the server does with it. */
  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  sendFrame(pcm: Int16Array): void {
    this.ws.send(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), { binary: true });
  }

  /** Streams PCM at this peer's rate as 20 ms frames, at real time. */
  async play(pcm: Int16Array, onFrame?: (index: number, sentAt: number) => void): Promise<void> {
    const size = this.sampleRate / 50;
    await paced(Math.floor(pcm.length / size), (i) => {
      if (this.ws.readyState !== WebSocket.OPEN) return false;
      onFrame?.(i, performance.now());
      this.sendFrame(pcm.subarray(i * size, (i + 1) * size));
      return true;
    });
  }

  /** Everything received so far, as one signal at this peer's rate. */
  receivedPcm(skipFrames = 0): Int16Array {
    return concat(this.frames.slice(skipFrames).map((f) => f.pcm));
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close(1000);
    });
  }
}
