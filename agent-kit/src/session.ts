import { EventEmitter } from 'node:events';
import { WebSocket, type RawData } from 'ws';
import { control, parseServerMessage } from './messages';
import { AgentKitError, MAX_AHEAD_MS, frameSamples, type Joined, type Participant, type SampleRate, type SessionEvents, type SessionOptions } from './types';

const FRAME_MS = 20;

/** What waits to go out, in order: audio frames, controls that mark a point in the audio, and the end of a `send`. */
type Outgoing = { readonly frame: Buffer } | { readonly text: string } | { readonly sent: (all: boolean) => void };

const asBuffer = (data: RawData): Buffer => (Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));

/** The options with their defaults; throws a RangeError naming a bad one. */
export function sessionOptions(options: SessionOptions): Required<SessionOptions> {
  const { maxAheadMs = 1000, highWaterMark = 64 * 1024 } = options;
  if (!(maxAheadMs >= FRAME_MS && maxAheadMs <= MAX_AHEAD_MS)) throw new RangeError(`maxAheadMs must be ${FRAME_MS}-${MAX_AHEAD_MS}, not ${maxAheadMs}`);
  if (!(highWaterMark > 0)) throw new RangeError(`highWaterMark must be over 0, not ${highWaterMark}`);
  return { maxAheadMs, highWaterMark };
}

/**
 * One agent in one room over the room protocol (docs/room-protocol.md): the socket the bridge dialled, or one that
 * joined a room. Events are typed (`SessionEvents`); a bad server message or a listener that throws becomes an
 * `error` event and the session goes on. Audio goes out in 20 ms frames, paced to at most `maxAheadMs` ahead of real
 * time and held back while the socket has over `highWaterMark` bytes unsent: `send` resolves when its audio went out.
 */
export class AgentSession extends EventEmitter<SessionEvents> {
  /** The server's `joined`, once it came. */
  joined: Joined | undefined;
  /** The others in the room now, by id. */
  readonly participants = new Map<string, Participant>();
  /** Resolves with `joined`; rejects if the socket closes first. */
  readonly ready: Promise<Joined>;
  private readonly maxAheadMs: number;
  private readonly highWaterMark: number;
  private readonly queue: Outgoing[] = [];
  private head = 0;
  /** Samples of a frame not yet whole: they go with the next `send`, or padded with silence before a checkpoint. */
  private partial = new Int16Array(0);
  /** When (performance.now()) the room will have played everything sent so far, at real time. */
  private playedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly closed: Promise<void>;

  constructor(
    private readonly ws: WebSocket,
    options: SessionOptions = {},
  ) {
    super();
    ({ maxAheadMs: this.maxAheadMs, highWaterMark: this.highWaterMark } = sessionOptions(options));
    this.ready = new Promise<Joined>((resolve, reject) => {
      this.once('joined', resolve);
      ws.once('close', () => reject(new AgentKitError('not_joined', 'the socket closed before "joined" came')));
    });
    // Nobody need await `ready`: an agent the bridge dialled listens for `joined` instead.
    this.ready.catch(() => undefined);
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data, isBinary) => this.guarded(() => (isBinary ? this.onAudio(asBuffer(data)) : this.onText(asBuffer(data).toString('utf8')))));
    ws.on('error', (err) => this.report(new AgentKitError('socket', err.message)));
    ws.once('close', (code, reason) =>
      this.guarded(() => {
        clearTimeout(this.timer);
        this.drop();
        this.safeEmit('close', { code, reason: reason.toString('utf8') });
      }),
    );
  }

  /** The negotiated rate of the audio both ways, once joined. */
  get sampleRate(): SampleRate | undefined {
    return this.joined?.sampleRate;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * Sends PCM at the session's rate, cut into 20 ms frames (a remainder under a frame waits for the next `send`, or is
   * padded with silence by `checkpoint`). Resolves true once all of it went out, false when `clear()` or the socket's
   * close dropped some first (or before `joined`: a `not_joined` error event); await it to pace your producer. Never rejects.
   */
  send(pcm: Int16Array): Promise<boolean> {
    const rate = this.sampleRate;
    if (!this.open) return Promise.resolve(false);
    // Never a rejection: `void session.send(pcm)` in a listener must not become an unhandled one.
    if (rate === undefined) {
      this.report(new AgentKitError('not_joined', 'send() before "joined": the rate is not known yet'));
      return Promise.resolve(false);
    }
    const size = frameSamples(rate);
    let samples = pcm;
    if (this.partial.length > 0) {
      samples = new Int16Array(this.partial.length + pcm.length);
      samples.set(this.partial);
      samples.set(pcm, this.partial.length);
    }
    const whole = samples.length - (samples.length % size);
    for (let offset = 0; offset < whole; offset += size) this.queue.push({ frame: Buffer.from(samples.slice(offset, offset + size).buffer) });
    this.partial = samples.slice(whole);
    const done = new Promise<boolean>((resolve) => this.queue.push({ sent: resolve }));
    this.pump();
    return done;
  }

  /**
   * Marks this point in the audio sent so far: once the caller has heard it all, `checkpoint-played` comes with `name`.
   * Goes out after that audio (a remainder under a frame is padded with silence first).
   */
  checkpoint(name: string): boolean {
    if (!this.open) return false;
    const rate = this.sampleRate;
    if (this.partial.length > 0 && rate !== undefined) {
      const frame = new Int16Array(frameSamples(rate));
      frame.set(this.partial);
      this.queue.push({ frame: Buffer.from(frame.buffer) });
      this.partial = new Int16Array(0);
    }
    this.queue.push({ text: control.checkpoint(name) });
    this.pump();
    return true;
  }

  /** Barge-in: drops the audio (and checkpoints) not sent yet, here and queued in the room, and Plivo's for each caller. */
  clear(): boolean {
    this.drop();
    this.playedAt = 0;
    return this.sendText(control.clear());
  }

  /** Plays `digits` (1-32 of `0-9 * # A-D`) to every caller in the room. */
  sendDtmf(digits: string): boolean {
    return this.sendText(control.sendDtmf(digits));
  }

  /** Hangs up a caller: `participantId`, or the call this agent was dialled for. */
  hangup(participantId?: string): boolean {
    const callUuid = this.joined?.call?.callUuid;
    const id = participantId ?? [...this.participants.values()].find((p) => p.phone !== undefined && p.phone.callUuid === callUuid)?.id;
    if (id === undefined) throw new AgentKitError('no_call', callUuid === undefined ? 'this session has no call: name the participant to hang up' : 'the call is no longer in the room');
    return this.sendText(control.hangup(id));
  }

  /** Leaves the room; resolves once the socket closed. Safe to call again. */
  close(code = 1000, reason = ''): Promise<void> {
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    return this.closed;
  }

  /** Writes what is queued while the lead and the socket's unsent bytes allow; else comes back when they will. */
  private pump(): void {
    if (this.timer !== undefined) return;
    while (this.head < this.queue.length && this.open) {
      const item = this.queue[this.head] as Outgoing;
      if ('frame' in item) {
        const now = performance.now();
        const ahead = Math.max(0, this.playedAt - now);
        if (ahead + FRAME_MS > this.maxAheadMs || this.ws.bufferedAmount > this.highWaterMark) {
          const wait = ahead + FRAME_MS > this.maxAheadMs ? ahead + FRAME_MS - this.maxAheadMs : FRAME_MS;
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.guarded(() => this.pump());
          }, wait);
          return;
        }
        this.playedAt = Math.max(this.playedAt, now) + FRAME_MS;
        this.ws.send(item.frame, { binary: true });
      } else if ('text' in item) this.ws.send(item.text);
      else item.sent(true);
      this.head++;
    }
    if (this.head === this.queue.length) this.forget();
  }

  /** Drops everything queued, ending each pending `send` with false. */
  private drop(): void {
    for (let i = this.head; i < this.queue.length; i++) {
      const item = this.queue[i] as Outgoing;
      if ('sent' in item) item.sent(false);
    }
    this.forget();
    this.partial = new Int16Array(0);
  }

  private forget(): void {
    this.queue.length = 0;
    this.head = 0;
  }

  private sendText(text: string): boolean {
    if (!this.open) return false;
    this.ws.send(text);
    return true;
  }

  private onAudio(data: Buffer): void {
    if (data.length % 2 !== 0) return this.report(new AgentKitError('bad_message', `an audio message of ${data.length} bytes: PCM16 takes an even number`));
    const pcm = new Int16Array(data.length / 2);
    Buffer.from(pcm.buffer).set(data);
    this.safeEmit('audio', pcm);
  }

  private onText(data: string): void {
    let message: ReturnType<typeof parseServerMessage>;
    try {
      message = parseServerMessage(data);
    } catch (err) {
      return this.report(err instanceof AgentKitError ? err : new AgentKitError('bad_message', String(err)));
    }
    switch (message.type) {
      case 'joined': {
        const { participantId, roomId, sampleRate, participants, call, dispatch, metadata } = message;
        const joined: Joined = { participantId, roomId, sampleRate, participants, ...(call && { call }), ...(dispatch && { dispatch }), ...(metadata && { metadata }) };
        this.joined = joined;
        this.participants.clear();
        for (const p of joined.participants) this.participants.set(p.id, p);
        return this.safeEmit('joined', joined);
      }
      case 'participant-joined':
        this.participants.set(message.participant.id, message.participant);
        return this.safeEmit('participant-joined', message.participant);
      case 'participant-left':
        this.participants.delete(message.participantId);
        return this.safeEmit('participant-left', { participantId: message.participantId, reason: message.reason });
      case 'dtmf':
        return this.safeEmit('dtmf', { participantId: message.participantId, digit: message.digit });
      case 'checkpoint-played':
        return this.safeEmit('checkpoint-played', { participantId: message.participantId, name: message.name });
      case 'levels':
        return this.safeEmit('levels', message.levels);
      case 'quality':
        return this.safeEmit('quality', message.quality);
      case 'error':
        return this.report(new AgentKitError('refused', message.message));
    }
  }

  /** Emits to the listeners; one that throws is reported as an `error` event, never out of the socket's callback. */
  private safeEmit<K extends keyof SessionEvents>(event: K, ...args: SessionEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: SessionEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      if (event !== 'error') this.report(new AgentKitError('listener', `a "${event}" listener threw: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  /** An `error` event, when anyone listens (Node's emitter would throw one nobody listens to). */
  private report(err: AgentKitError): void {
    if (this.listenerCount('error') > 0) this.safeEmit('error', err);
  }

  private guarded(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.report(new AgentKitError('socket', `handling the socket failed: ${err instanceof Error ? err.message : String(err)}`));
    }
  }
}
