import type { WebSocket } from 'ws';
import { z } from 'zod';
import type { Logger } from '../../../core/log';
import { Frame, samplesPerFrame } from '../audio/frame';
import type { SampleRate } from '../../../core/rooms';
import { CLOSE } from '../transport/close-codes';
import { Endpoint, FrameCutter, newStats, type EndpointStats } from '../transport/endpoint';
import { FloodMeter } from '../transport/flood-meter';
import { guard } from '../transport/guard';
import { MessageGuard } from '../transport/message-guard';
import { JitterBuffer, MAX_PENDING_CHECKPOINTS } from './jitter-buffer';
import type { Participant, PhoneInfo, Room, RoomEvent } from './room';

/** An agent may send its speech ahead of real time, up to this much; beyond it the oldest is dropped. */
const AGENT_AHEAD_FRAMES = 60 * 50;
/** Agents may burst speech ahead of real time; a live source (web) sending over 10x real time is a flood. */
const AGENT_FLOOD_FACTOR = 100;
/** Control messages are for people and agents acting, not streams: over 50 a second is a flood. */
const CONTROLS_PER_SECOND = 5;
/**
 * Messages of any kind within a second beyond which a participant is flooding: 20 ms frames are 50 a second, smaller
 * chunks more (a browser's 128-sample quanta at 48 kHz, 375); an agent's minute of speech sent ahead in 20 ms frames, 3,000.
 */
const MESSAGES_PER_SECOND = { web: 1_000, agent: 10_000 } as const;
/** The first second of an agent's queue is its own, as a live source's is; audio sent further ahead draws on the room's budget. */
const OWN_QUEUE_FRAMES = 50;

const CONTROL_TYPES = 'clear, send-dtmf, checkpoint, hangup, mute, unmute';
const clientMessage = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('clear') }),
    z.object({ type: z.literal('send-dtmf'), digits: z.string().regex(/^[0-9*#A-D]{1,32}$/, 'digits must be 1-32 of 0-9 * # A-D') }),
    z.object({ type: z.literal('checkpoint'), name: z.string().min(1, 'name must not be empty').max(128, 'name must be at most 128 characters') }),
    z.object({ type: z.literal('hangup'), participantId: z.string().max(64) }),
    z.object({ type: z.literal('mute') }),
    z.object({ type: z.literal('unmute') }),
  ],
  { message: `type must be one of ${CONTROL_TYPES}` },
);

/** What a participant learns as it joins, and an agent also the call it was dialled for, or the dispatch it was dialled by. */
export interface Welcome {
  readonly call?: PhoneInfo;
  /** An agent dispatched with no call (`POST /v2/agent/dispatch`): the job. */
  readonly dispatch?: { readonly jobId: string };
  readonly metadata?: Readonly<Record<string, unknown>>;
}

export interface RoomSocketOptions {
  readonly id: string;
  readonly kind: 'web' | 'agent';
  readonly rate: SampleRate;
  readonly log: Logger;
  /** Extra fields of the `joined` message. */
  readonly welcome?: Welcome;
  /** Send this participant `levels` events. */
  readonly wantsLevels?: boolean;
}

/**
 * A non-phone participant over the room protocol (`docs/room-protocol.md`): a browser or service that
 * joined `/rooms/{roomId}`, or an agent the bridge dialled. Binary frames are 20 ms of PCM16LE at the
 * participant's rate both ways; text frames are JSON events and controls. Works on either end of the
 * socket, so a dialled agent is the same participant as one that joined.
 */
export class RoomSocket implements Participant {
  readonly id: string;
  readonly kind: 'web' | 'agent';
  readonly rate: SampleRate;
  readonly wantsLevels: boolean;
  readonly input: JitterBuffer;
  /** Its bad messages each got an `error` reply (until too many closed the socket). */
  readonly stats: EndpointStats = newStats();
  muted = false;
  /** Settles once the participant has left its room. */
  readonly closed: Promise<void>;
  private readonly frameBytes: number;
  private readonly cutter: FrameCutter;
  private readonly endpoint: Endpoint;
  private readonly audioFlood: FloodMeter;
  private readonly controlFlood = new FloodMeter(CONTROLS_PER_SECOND);
  private readonly guard: MessageGuard;
  private leaveReason = 'left';
  private readonly log: Logger;

  constructor(
    ws: WebSocket,
    private readonly room: Room,
    options: RoomSocketOptions,
  ) {
    const { id, kind, rate, log } = options;
    this.id = id;
    this.kind = kind;
    this.rate = rate;
    this.log = log;
    this.wantsLevels = options.wantsLevels ?? false;
    this.frameBytes = samplesPerFrame(rate) * 2;
    this.cutter = new FrameCutter(this.frameBytes);
    this.endpoint = new Endpoint(ws, { stats: this.stats, counters: room.counters });
    this.audioFlood = new FloodMeter(rate * 2, kind === 'agent' ? AGENT_FLOOD_FACTOR : undefined);
    this.input =
      kind === 'agent'
        ? new JitterBuffer({
            startFrames: 1,
            maxTarget: 1,
            capacity: AGENT_AHEAD_FRAMES,
            adaptive: false,
            budget: { from: room.audioBudget, frameBytes: this.frameBytes, free: OWN_QUEUE_FRAMES },
            counters: room.counters,
          })
        : new JitterBuffer({ startFrames: 2, maxTarget: 10, capacity: 50, adaptive: true, counters: room.counters });
    this.guard = new MessageGuard(ws, log, { label: 'room socket', messagesPerSecond: MESSAGES_PER_SECOND[kind], stats: this.stats, close: (code, reason) => this.close(code, reason) });
    this.guard.listen((data, isBinary) => (isBinary ? this.onAudio(data) : this.onControl(data)));
    this.closed = new Promise((resolve) =>
      ws.once('close', (code) => {
        // Settles whatever leaving trips: the server waits on it to let the connection go.
        guard(log, 'leaving the room', () => undefined).run(() => {
          room.leave(id, this.leaveReason);
          const jitter = this.input.stats;
          log.info('room participant left', { code, reason: this.leaveReason, ...this.stats, underruns: jitter.underruns, jitterTarget: jitter.target, jitterMs: jitter.jitterMs, droppedIn: jitter.dropped, skippedQuietIn: jitter.skipped });
        });
        resolve();
      }),
    );
    this.send({ type: 'joined', participantId: id, roomId: room.id, sampleRate: rate, participants: room.participants(), ...options.welcome });
    room.join(this);
    log.info('room participant joined', { kind, sampleRate: rate });
  }

  get tenant(): string {
    return this.room.tenant;
  }

  get roomId(): string {
    return this.room.id;
  }

  deliver(frame: Frame): void {
    if (!this.endpoint.open) return;
    const { pcm } = frame;
    this.endpoint.sendAudio(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), true);
  }

  notify(event: RoomEvent): void {
    this.send(event);
  }

  /** Ends this participant's connection. */
  close(code: number, reason: string): void {
    this.leaveReason = reason;
    if (this.endpoint.open) this.endpoint.close(code, reason);
  }

  /** Called every 30 s: a peer that did not answer the last ping is gone (a half-open connection). */
  heartbeat(): void {
    if (!this.endpoint.heartbeat()) this.leaveReason = 'no heartbeat';
  }

  private onAudio(data: Buffer): void {
    if (this.audioFlood.exceeded(data.length)) return this.close(CLOSE.flood, 'audio faster than real time allows');
    if (data.length % 2 !== 0) return this.bad('audio frames are PCM16LE: an even number of bytes');
    this.cutter.cut(data, (bytes) => {
      // Copied into its own aligned array: the room keeps frames past this message.
      const samples = new Int16Array(this.frameBytes / 2);
      Buffer.from(samples.buffer).set(bytes);
      if (!this.input.push(Frame.fromPcm(this.rate, samples))) {
        this.close(CLOSE.audioBudget, "audio sent ahead is over the room's or the media server's budget");
        return false;
      }
      this.stats.framesIn++;
    });
    this.input.arrived();
  }

  private onControl(data: Buffer): void {
    if (this.controlFlood.exceeded(1)) return this.close(CLOSE.flood, 'more than 50 control messages a second');
    let message: z.infer<typeof clientMessage>;
    try {
      const parsed = clientMessage.safeParse(JSON.parse(data.toString('utf8')));
      if (!parsed.success) return this.bad(parsed.error.issues.map((issue) => issue.message).join('; '));
      message = parsed.data;
    } catch {
      return this.bad('control messages are JSON objects with a "type"');
    }
    switch (message.type) {
      case 'clear':
        this.input.clear();
        for (const phone of this.room.phones()) phone.phoneControl?.clearAudio();
        return;
      case 'send-dtmf':
        for (const phone of this.room.phones()) phone.phoneControl?.sendDtmf(message.digits);
        return;
      case 'checkpoint':
        if (!this.input.pushCheckpoint(message.name)) this.bad(`at most ${MAX_PENDING_CHECKPOINTS} checkpoints may wait for their audio to play`);
        return;
      case 'hangup': {
        const target = this.room.get(message.participantId);
        if (!target?.phoneControl) return this.bad(`no phone participant ${message.participantId} in this room`);
        this.log.info('phone participant hung up by room participant', { target: target.id });
        target.phoneControl.hangup('kicked');
        return;
      }
      case 'mute':
      case 'unmute':
        this.muted = message.type === 'mute';
        return;
    }
  }

  private bad(message: string): void {
    if (this.guard.bad(message)) this.send({ type: 'error', message });
  }

  private send(message: object): void {
    this.endpoint.sendJson(message);
  }
}
