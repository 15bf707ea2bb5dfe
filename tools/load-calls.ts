import { WebSocket } from 'ws';
import { mulawEncode } from '../core/mulaw';
import { FRAME_MS } from '../ingest-container/src/audio/frame';
import { tone } from './audio';

/**
 * The load generator of `bench:media` and `soak`: many simulated Plivo streams from one process, as lean
 * as it can be, since it shares the machine with the server it measures. Frames carry a sequence number
 * in their first four mu-law bytes (base-127 digits, never 0x7f, so they survive a decode and re-encode);
 * replies are read for it without parsing their JSON.
 */
const FRAME_BYTES = 160;
/** Talkers start spread over one frame time, in this many groups, as independent calls would. */
const SEND_GROUPS = 10;
const PAYLOAD_KEY = Buffer.from('"payload":"');

/**
 * One second of a 700 Hz tone as 50 mu-law frames, each as base64 without its first 6 bytes: a stamped
 * frame is base64(4 sequence digits + bytes 4-5) + this tail (6 bytes are exactly 8 base64 characters).
 */
const voice = mulawEncode(tone(700, 1, 6000));
const tails = Array.from({ length: 50 }, (_, i) => Buffer.from(voice.subarray(i * FRAME_BYTES + 6, (i + 1) * FRAME_BYTES)).toString('base64'));
const head = Buffer.alloc(6);

/** Frame `frame` of the tone, as base64, stamped with `sequence` (up to 127^4). */
export function stampedPayload(frame: number, sequence: number): string {
  for (let i = 0, rest = sequence; i < 4; i++, rest = Math.floor(rest / 127)) head[i] = rest % 127;
  head[4] = voice[(frame % 50) * FRAME_BYTES + 4] as number;
  head[5] = voice[(frame % 50) * FRAME_BYTES + 5] as number;
  return head.toString('base64') + (tails[frame % 50] as string);
}

/** A frame of digital silence (160 x 0xff), unstamped: what a phone sends between talk spurts. */
export const SILENT_PAYLOAD = Buffer.alloc(FRAME_BYTES, 0xff).toString('base64');

/**
 * Talk spurts (`bench:media --talk ON,OFF`): each call talks `onSeconds`, then is silent `offSeconds`, over and over,
 * from its own random phase, as callers taking turns would.
 */
export class TalkPattern {
  private readonly onFrames: number;
  private readonly periodFrames: number;
  private readonly phases = new WeakMap<LoadCall, number>();

  constructor(
    readonly onSeconds: number,
    readonly offSeconds: number,
  ) {
    if (!(onSeconds > 0 && offSeconds > 0)) throw new Error('--talk takes ON,OFF: two numbers of seconds above 0, such as 1.5,0.5');
    this.onFrames = Math.round((onSeconds * 1000) / FRAME_MS);
    this.periodFrames = this.onFrames + Math.round((offSeconds * 1000) / FRAME_MS);
  }

  /** Whether `call`'s frame `frame` is in a talk spurt. */
  talking(call: LoadCall, frame: number): boolean {
    let phase = this.phases.get(call);
    if (phase === undefined) this.phases.set(call, (phase = Math.floor(Math.random() * this.periodFrames)));
    return (frame + phase) % this.periodFrames < this.onFrames;
  }
}

/** The sequence number stamped in a `playAudio` message; 0 when it has no payload. */
function sequenceIn(data: Buffer): number {
  const at = data.indexOf(PAYLOAD_KEY);
  if (at < 0) return 0;
  const bytes = Buffer.from(data.toString('latin1', at + PAYLOAD_KEY.length, at + PAYLOAD_KEY.length + 8), 'base64');
  let sequence = 0;
  for (let i = 3; i >= 0; i--) sequence = sequence * 127 + (bytes[i] as number);
  return sequence;
}

/** Sees every message a call receives: the sequence stamped in it, when it came, and the gap since the last. */
export type OnReceive = (sequence: number, at: number, gapMs: number) => void;

/** One simulated Plivo stream: `start`, `media` frames, `stop`. */
export class LoadCall {
  readonly streamId = crypto.randomUUID();
  /** Frames sent so far. */
  frames = 0;
  received = 0;
  closeCode: number | null = null;
  private messageSequence = 0;
  private lastAt = 0;

  private constructor(
    private readonly ws: WebSocket,
    onReceive: OnReceive,
  ) {
    ws.on('message', (data: Buffer) => {
      const at = performance.now();
      this.received++;
      onReceive(sequenceIn(data), at, this.lastAt ? at - this.lastAt : 0);
      this.lastAt = at;
    });
    ws.on('close', (code) => (this.closeCode = code));
    ws.on('error', () => undefined);
  }

  /** Opens the stream at `url` and sends `start` for `callId`. */
  static async open(url: string, callId: string, onReceive: OnReceive): Promise<LoadCall> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`stream upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    const call = new LoadCall(ws, onReceive);
    call.send({ event: 'start', start: { callId, streamId: call.streamId, accountId: 'MABENCH', tracks: ['inbound'], mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 } } });
    return call;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  sendMedia(payload: string): void {
    const chunk = ++this.frames;
    this.ws.send(
      `{"event":"media","sequenceNumber":${++this.messageSequence},"streamId":"${this.streamId}","media":{"track":"inbound","timestamp":"${chunk * FRAME_MS}","chunk":${chunk},"payload":"${payload}"}}`,
    );
  }

  /** `stop`, then the close handshake: the call's end as Plivo signals it. */
  async stop(): Promise<void> {
    if (!this.open) return;
    this.send({ event: 'stop', streamId: this.streamId });
    await new Promise<void>((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close(1000);
    });
  }

  private send(message: object): void {
    this.ws.send(JSON.stringify({ ...message, sequenceNumber: ++this.messageSequence }));
  }
}

/**
 * Sends every member call its next frame every 20 ms, on a drift-free schedule; members are split into
 * groups whose schedules are spread over one frame time. Calls may join and leave while it runs.
 */
export class Pacer {
  private readonly groups = Array.from({ length: SEND_GROUPS }, () => new Set<LoadCall>());
  private added = 0;
  private stopped = false;

  constructor(private readonly payloadFor: (call: LoadCall, frame: number) => string) {}

  add(call: LoadCall): void {
    this.groups[this.added++ % SEND_GROUPS]?.add(call);
  }

  delete(call: LoadCall): void {
    for (const group of this.groups) group.delete(call);
  }

  /** Sends `frames` frames per member, or until `stop()` when null. */
  async run(frames: number | null): Promise<void> {
    const started = performance.now();
    await Promise.all(
      this.groups.map(async (members, group) => {
        const groupStart = started + (group * FRAME_MS) / SEND_GROUPS;
        for (let frame = 0; (frames === null || frame < frames) && !this.stopped; frame++) {
          const wait = groupStart + frame * FRAME_MS - performance.now();
          if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
          for (const call of members) if (call.open) call.sendMedia(this.payloadFor(call, call.frames));
        }
      }),
    );
  }

  stop(): void {
    this.stopped = true;
  }
}

/** Runs `task` over `items`, at most `limit` at a time. */
export async function inBatches<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await task(items[i] as T, i);
      }
    }),
  );
  return results;
}
