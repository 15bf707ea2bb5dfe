import type { WebSocket } from 'ws';
import type { Claim } from '../../../core/claims';
import type { Logger } from '../../../core/log';
import type { AgentSpec } from '../../../core/routing/model';
import { guard, INTERNAL_ERROR, socketGuard } from '../guard';
import { Frame, PHONE_FRAME_BYTES } from '../audio/frame';
import type { CallLifecycle, EndReason } from '../calls';
import { dialAgent, type DialOptions } from '../room/agent';
import { FloodMeter } from '../room/flood-meter';
import { JitterBuffer } from '../room/jitter-buffer';
import { MessageGuard } from '../room/message-guard';
import { OutputLag } from '../room/output-lag';
import type { Participant, RoomEvent, RoomRegistry, Room } from '../room/room';
import { ROOM_CLOSE, type RoomSocket } from '../room/socket';

/** Close codes of ours (4xxx) on Plivo streams. */
export const STREAM_CLOSE = {
  badOrder: 4400,
  callMismatch: 4403,
  startTimeout: 4408,
  flood: 4429,
  /** More than `BAD_MESSAGES_PER_SECOND` malformed messages within a second. */
  badMessages: 4422,
  /** Handling a message failed: a bug of ours, which ends this call only. */
  error: INTERNAL_ERROR.code,
  /** The room already has `MAX_PARTICIPANTS_PER_ROOM` seats taken. */
  roomFull: 4430,
  /** The tenant already has `MAX_ROOMS_PER_TENANT` rooms on this media server. */
  roomLimit: 4431,
  kicked: 4000,
  shutdown: 1001,
} as const;

/** How long a stream may wait for `start` after its upgrade, unless the server says otherwise. */
const START_TIMEOUT_MS = 10_000;
/**
 * Beyond this much unsent output on the socket, frames are dropped (and counted) rather than queued; and while
 * Plivo has over a second of audio unread (`OutputLag`): the kernel takes far more than this first.
 */
const MAX_BUFFERED_BYTES = 64 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DTMF_DIGIT = /^[0-9*#A-D]$/;
/** Plivo sends 50 `media` messages a second and a few events: 20 times that is a flood. */
const MESSAGES_PER_SECOND = 1000;

/** Plivo's `playAudio` of one mu-law frame, as text (built by concatenation: it is sent 50 times a second per call). */
export const playAudioMessage = (base64: string): string =>
  '{"event":"playAudio","media":{"contentType":"audio/x-mulaw","sampleRate":8000,"payload":"' + base64 + '"}}';

export interface StreamStats {
  framesIn: number;
  framesOut: number;
  /** Malformed messages: invalid JSON, missing fields, bad base64, binary frames (too many close the stream with 4422). */
  badMessages: number;
  /** Output frames dropped because Plivo had over a second of audio unread or the socket backed up. */
  droppedOut: number;
}

interface PlivoMessage {
  readonly event?: unknown;
  readonly start?: { readonly callId?: unknown; readonly streamId?: unknown };
  readonly media?: { readonly payload?: unknown };
  readonly dtmf?: { readonly digit?: unknown };
  readonly name?: unknown;
}

/**
 * One Plivo audio stream, from the accepted upgrade to its close: waits for `start` (10 s; its callId
 * must be the claim's CallUUID), joins the claim's room as a phone participant, feeds the caller's
 * frames to the room and the room's mix back as `playAudio`, one 20 ms frame per room tick, so output
 * is paced at real time by construction. Bad messages are counted and logged; the call goes on.
 */
export class PlivoStream implements Participant {
  readonly kind = 'phone' as const;
  readonly rate = 8000 as const;
  readonly id: string;
  readonly phone: Participant['phone'];
  readonly input = new JitterBuffer({ startFrames: 1, maxTarget: 8, capacity: 50, adaptive: true });
  readonly stats: StreamStats = { framesIn: 0, framesOut: 0, badMessages: 0, droppedOut: 0 };
  muted = false;
  /** Settles once the stream has left its room and its call record is ended. */
  readonly closed: Promise<void>;
  private streamId = '';
  private room: Room | null = null;
  private answeredAtMs: number | null = null;
  private endReason: EndReason = 'caller-hangup';
  private readonly lag: OutputLag;
  /** A relayed stream answered the last heartbeat ping. */
  private alive = true;
  private readonly startTimer: NodeJS.Timeout;
  /** Bytes of a payload that was not a whole 20 ms frame, waiting for the rest. */
  private partial: Buffer = Buffer.alloc(0);
  /** mu-law is 8,000 bytes a second. */
  private readonly flood = new FloodMeter(8000);
  /** The rule's agent, dialled as the call joins; aborted (or hung up) when the call ends. */
  private readonly agentDial = new AbortController();
  private agent: Promise<RoomSocket | null> = Promise.resolve(null);
  private readonly guard: MessageGuard;
  readonly phoneControl = {
    clearAudio: () => this.sendControl({ event: 'clearAudio', streamId: this.streamId }),
    sendDtmf: (digits: string) => this.sendControl({ event: 'sendDTMF', dtmf: digits }),
    checkpoint: (name: string) => this.sendControl({ event: 'checkpoint', streamId: this.streamId, name }),
    hangup: (reason: string) => this.close(STREAM_CLOSE.kicked, reason, 'kicked'),
  };

  constructor(
    private readonly ws: WebSocket,
    private readonly claim: Claim,
    private readonly deps: {
      readonly rooms: RoomRegistry;
      readonly lifecycle: CallLifecycle;
      readonly log: Logger;
      /** `ws` is a peer server's relay, not Plivo's own socket: if it drops, that server is gone. */
      readonly relayed?: boolean;
      /** @default START_TIMEOUT_MS */
      readonly startTimeoutMs?: number;
      readonly dial: DialOptions;
    },
  ) {
    this.id = `ph_${claim.callId.slice('call_'.length)}`;
    this.phone = { from: claim.from, to: claim.to, callUuid: claim.callUuid, callId: claim.callId };
    this.lag = new OutputLag(ws);
    const startTimeoutMs = deps.startTimeoutMs ?? START_TIMEOUT_MS;
    this.startTimer = setTimeout(
      socketGuard(ws, deps.log, 'plivo stream start timer')(() => this.close(STREAM_CLOSE.startTimeout, `no start event within ${startTimeoutMs / 1000} s`, 'start-timeout')),
      startTimeoutMs,
    );
    this.guard = new MessageGuard(ws, deps.log, {
      label: 'plivo stream',
      messagesPerSecond: MESSAGES_PER_SECOND,
      codes: STREAM_CLOSE,
      stats: this.stats,
      close: (code, reason) => this.close(code, reason, code === STREAM_CLOSE.flood ? 'flood' : 'error'),
    });
    this.guard.listen((data, isBinary) => this.onMessage(data, isBinary));
    this.closed = new Promise((resolve) =>
      ws.once('close', (code) => {
        // Through a relay: the entry server vanished (1006), or is shutting down (1001).
        if (this.relayed && code === 1006) this.endReason = 'media-failure';
        if (this.relayed && code === STREAM_CLOSE.shutdown) this.endReason = 'server-shutdown';
        // Settles whatever ending the call trips: the server waits on it to let the connection go.
        const ending = this.onClose();
        guard(deps.log, 'ending the call', () => undefined).watch(ending);
        void ending.then(
          () => resolve(),
          () => resolve(),
        );
      }),
    );
    if (this.relayed) ws.on('pong', () => (this.alive = true));
    ws.on('error', (err: Error & { code?: string }) => {
      // A protocol fault of the peer (a message over maxPayload, 64 KB: ws closes with 1009; bad framing, bad UTF-8).
      if (err.code?.startsWith('WS_ERR_')) this.endReason = 'error';
    });
  }

  get relayed(): boolean {
    return this.deps.relayed ?? false;
  }

  /** Called every 30 s for relayed streams: a relay that did not answer the last ping lost its server. */
  heartbeat(): void {
    if (!this.alive) return void this.ws.terminate();
    this.alive = false;
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }

  get tenant(): string {
    return this.claim.tenant;
  }

  get roomId(): string {
    return this.claim.roomId;
  }

  deliver(frame: Frame): void {
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES || this.lag.behind()) {
      this.stats.droppedOut++;
      return;
    }
    this.stats.framesOut++;
    this.ws.send(playAudioMessage(frame.mulawBase64));
  }

  notify(_event: RoomEvent): void {
    // Callers hear the room; room events are for participants with a control channel.
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) return this.bad('a binary frame: Plivo sends JSON text');
    let message: PlivoMessage;
    try {
      message = JSON.parse(data.toString('utf8')) as PlivoMessage;
    } catch {
      return this.bad('not JSON');
    }
    if (typeof message !== 'object' || message === null) return this.bad('not a JSON object');
    if (message.event === 'start') return this.onStart(message);
    if (!this.room) {
      if (message.event !== 'stop') this.close(STREAM_CLOSE.badOrder, 'start must be the first event', 'error');
      return;
    }
    switch (message.event) {
      case 'media':
        return this.onMedia(message.media?.payload);
      case 'dtmf': {
        const digit = message.dtmf?.digit;
        if (typeof digit !== 'string' || !DTMF_DIGIT.test(digit)) return this.bad('dtmf without a valid digit');
        this.room.broadcast({ type: 'dtmf', participantId: this.id, digit }, this.id);
        return;
      }
      case 'playedStream':
        if (typeof message.name !== 'string') return this.bad('playedStream without a name');
        this.room.broadcast({ type: 'checkpoint-played', participantId: this.id, name: message.name }, this.id);
        return;
      case 'clearedAudio':
        return;
      case 'stop':
        this.close(1000, 'stream stopped', 'caller-hangup');
        return;
      default:
        // Not String(event): an object with its own "toString" key throws when made a string.
        this.deps.log.debug('plivo stream: unknown event ignored', { event: typeof message.event === 'string' ? message.event.slice(0, 64) : typeof message.event });
    }
  }

  private onStart(message: PlivoMessage): void {
    if (this.room) return this.bad('second start event');
    const callId = message.start?.callId;
    if (typeof callId !== 'string' || callId !== this.claim.callUuid) {
      this.close(STREAM_CLOSE.callMismatch, 'start.callId does not match the call this stream was claimed for', 'call-mismatch');
      return;
    }
    clearTimeout(this.startTimer);
    this.streamId = typeof message.start?.streamId === 'string' ? message.start.streamId : '';
    this.room = this.deps.rooms.get(this.claim.tenant, this.claim.roomId);
    this.room.join(this);
    this.answeredAtMs = Date.now();
    this.deps.log.info('call joined room', { roomId: this.claim.roomId });
    this.deps.lifecycle.answered(this.claim.tenant, this.claim.callId).catch((err: unknown) => this.deps.log.error('could not record the call as answered', { err }));
    if (this.claim.agent) this.agent = this.dial(this.room, this.claim.agent);
  }

  /** Dials the rule's agent; the call stays in the room whether or not the agent answers. */
  private async dial(room: Room, agent: AgentSpec): Promise<RoomSocket | null> {
    const { from, to, callUuid, callId, tenant } = this.claim;
    const welcome = { call: { from, to, callUuid, callId }, ...(agent.metadata && { metadata: agent.metadata }) };
    const socket = await dialAgent(agent, room, welcome, this.deps.log, this.agentDial.signal, this.deps.dial);
    // The call ended while dialling, before the agent answered: nothing to record.
    if (this.agentDial.signal.aborted && !socket) return null;
    if (!socket) this.deps.log.error('agent unreachable: the call goes on without it', {});
    const status = socket ? 'connected' : 'unreachable';
    await this.deps.lifecycle.agentStatus(tenant, callId, status).catch((err: unknown) => this.deps.log.error('could not record the agent status', { err }));
    return socket;
  }

  private onMedia(payload: unknown): void {
    if (typeof payload !== 'string' || payload.length % 4 !== 0 || !BASE64.test(payload)) return this.bad('media without a valid base64 payload');
    const bytes = (payload.length / 4) * 3 - (payload.endsWith('==') ? 2 : payload.endsWith('=') ? 1 : 0);
    if (this.flood.exceeded(bytes)) {
      this.close(STREAM_CLOSE.flood, 'media faster than 10x real time', 'flood');
      return;
    }
    // Exactly one frame passes on as the text Plivo sent; 216 characters may also carry 161 or 162 bytes (less padding).
    if (bytes === PHONE_FRAME_BYTES && this.partial.length === 0) {
      this.stats.framesIn++;
      this.input.push(Frame.fromMulawBase64(payload));
      return;
    }
    // Any other length: re-cut into 20 ms frames.
    let buffer = Buffer.concat([this.partial, Buffer.from(payload, 'base64')]);
    while (buffer.length >= PHONE_FRAME_BYTES) {
      this.stats.framesIn++;
      this.input.push(Frame.fromMulaw(Uint8Array.prototype.slice.call(buffer, 0, PHONE_FRAME_BYTES)));
      buffer = buffer.subarray(PHONE_FRAME_BYTES);
    }
    this.partial = Buffer.from(buffer);
  }

  private bad(what: string): void {
    this.guard.bad(what);
  }

  private sendControl(message: object): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** Ends the stream from the server side, recording `why` as the call's hangup reason. */
  close(code: number, reason: string, why: EndReason): void {
    this.endReason = why;
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
  }

  /** Ends the stream from the server side (shutdown). */
  shutdown(): void {
    this.close(STREAM_CLOSE.shutdown, 'media server shutting down', 'server-shutdown');
  }

  private async onClose(): Promise<void> {
    clearTimeout(this.startTimer);
    this.agentDial.abort();
    this.room?.leave(this.id, this.endReason);
    (await this.agent)?.close(ROOM_CLOSE.callEnded, 'call ended');
    const jitter = this.input.stats;
    this.deps.log.info('plivo stream closed', { reason: this.endReason, ...this.stats, underruns: jitter.underruns, jitterTarget: jitter.target, droppedIn: jitter.dropped });
    try {
      await this.deps.lifecycle.ended(this.claim.tenant, this.claim.callId, this.endReason, this.answeredAtMs);
    } catch (err) {
      this.deps.log.error('could not record the call as ended', { err });
    }
  }
}
