import type { WebSocket } from 'ws';
import type { Claim } from '../../../core/claims';
import type { CallEventType } from '../../../core/events';
import type { Join } from '../admission/join';
import { Frame, PHONE_FRAME_BYTES } from '../audio/frame';
import type { Relay } from '../cluster/relay';
import { CallSession, phoneInfoOf, withExtraHeaders, type CallSessionDeps } from '../calls/session';
import type { EndReason, RoomHangupReason } from '../calls/lifecycle';
import { JitterBuffer } from '../room/jitter-buffer';
import type { RoomRegistry } from '../room/registry';
import type { Participant, PhoneInfo, RoomEvent, Room } from '../room/room';
import { CLOSE, NO_CLOSE_FRAME, ROOM_ENDINGS, SHUTDOWN, type RoomEnding } from '../transport/close-codes';
import { Endpoint, FrameCutter, newStats, type EndpointStats } from '../transport/endpoint';
import { FloodMeter } from '../transport/flood-meter';
import { guard, socketGuard } from '../transport/guard';
import { MessageGuard } from '../transport/message-guard';
import { checkpointMessage, clearAudioMessage, dtmfOf, eventName, extraHeadersOf, mediaFrameOf, mediaOf, parseMessage, playAudioFrame, playedOf, sendDtmfMessage, startMessage, startOf, type MediaPayload, type PlivoMessage } from './protocol';

/** How long a stream may wait for `start` after its upgrade, unless the server says otherwise. */
const START_TIMEOUT_MS = 10_000;
/** Why a call leaves a room it is switched out of (`participant-left`'s `reason`), and the close reason of its leg there. */
const SWITCHED_ROOM = 'switched-room';
/** Plivo sends 50 `media` messages a second and a few events: 20 times that is a flood. */
const MESSAGES_PER_SECOND = 1000;
/** A call switched into a room of another server ends as that server closed its leg: these codes say why, any other is an error. */
const RELAYED_END_REASONS: Readonly<Record<number, EndReason>> = {
  [CLOSE.kicked]: 'kicked',
  [CLOSE.removed]: 'removed',
  [CLOSE.shutdown]: 'server-shutdown',
  [CLOSE.roomDeactivated]: 'room-deactivated',
  [CLOSE.sessionEnded]: 'session-ended',
};
/** Each way a call is hung up from its room, and the close code of its stream when Plivo cannot be asked to. */
const HANGUP_CLOSES: Readonly<Record<RoomHangupReason, number>> = { kicked: CLOSE.kicked, removed: CLOSE.removed };

export interface PlivoStreamDeps extends CallSessionDeps {
  readonly rooms: RoomRegistry;
  /** `ws` is a peer server's relay, not Plivo's own socket: if it drops, that server is gone. */
  readonly relayed?: boolean;
  /** @default START_TIMEOUT_MS */
  readonly startTimeoutMs?: number;
  /**
   * The stream is a switched call's leg, relayed here from the server holding the call's socket, into a room of this
   * server: that server keeps the call's record, so this one records neither its answer nor its end.
   */
  readonly switchedLeg?: boolean;
}

/**
 * Adapts one Plivo audio stream to its room, from the accepted upgrade to its close: waits for `start` (10 s; its
 * callId must be the claim's CallUUID), joins the claim's room as a phone participant, feeds the caller's frames to
 * the room and the room's mix back as `playAudio`, one 20 ms frame per room tick, so output is paced at real time by
 * construction. Bad messages are counted and logged; the call goes on. The call itself is its `CallSession`'s.
 */
export class PlivoStream implements Participant {
  readonly kind = 'phone' as const;
  readonly rate = 8000 as const;
  /** The call's participant id in its room; a switch of rooms may give it another. */
  id: string;
  /** What the room sees of the call: its claim's, with its `start`'s extra headers once that came. */
  phone: PhoneInfo;
  readonly input: JitterBuffer;
  readonly stats: EndpointStats = newStats();
  muted = false;
  /** Settles once the stream has left its room and its call record is ended. */
  readonly closed: Promise<void>;
  private streamId = '';
  private room: Room | null = null;
  /** Switched into a room of another server: the leg there (a relay), and that room's id. */
  private remote: { readonly relay: Relay; readonly roomId: string } | null = null;
  private endReason: EndReason = 'caller-hangup';
  /** Why the call left its room when that is not its end: a switched leg let go as the call moved on. */
  private leftFor: typeof SWITCHED_ROOM | null = null;
  private readonly endpoint: Endpoint;
  private readonly startTimer: NodeJS.Timeout;
  private readonly cutter = new FrameCutter(PHONE_FRAME_BYTES);
  /** mu-law is 8,000 bytes a second. */
  private readonly flood = new FloodMeter(8000);
  private readonly call: CallSession;
  private readonly guard: MessageGuard;
  readonly phoneControl = {
    clearAudio: () => this.endpoint.sendText(clearAudioMessage(this.streamId)),
    sendDtmf: (digits: string) => this.endpoint.sendText(sendDtmfMessage(digits)),
    checkpoint: (name: string) => this.endpoint.sendText(checkpointMessage(this.streamId, name)),
    hangup: (reason: RoomHangupReason) => {
      const closeStream = () => this.close(HANGUP_CLOSES[reason], reason, reason);
      guard(this.deps.log, 'hanging up the call', closeStream).watch(this.hangUp(reason, closeStream));
    },
  };

  constructor(
    ws: WebSocket,
    private readonly claim: Claim,
    private readonly deps: PlivoStreamDeps,
  ) {
    this.id = claim.participant?.id ?? `ph_${claim.callId.slice('call_'.length)}`;
    this.phone = phoneInfoOf(claim);
    const { counters } = deps.rooms;
    this.input = new JitterBuffer({ startFrames: 1, maxTarget: 8, capacity: 50, adaptive: true, counters });
    this.endpoint = new Endpoint(ws, { stats: this.stats, counters });
    this.call = new CallSession(claim, deps);
    const startTimeoutMs = deps.startTimeoutMs ?? START_TIMEOUT_MS;
    this.startTimer = setTimeout(
      socketGuard(ws, deps.log, 'plivo stream start timer')(() => this.close(CLOSE.startTimeout, `no start event within ${startTimeoutMs / 1000} s`, 'start-timeout')),
      startTimeoutMs,
    );
    this.guard = new MessageGuard(ws, deps.log, {
      label: 'plivo stream',
      messagesPerSecond: MESSAGES_PER_SECOND,
      stats: this.stats,
      close: (code, reason) => this.close(code, reason, code === CLOSE.flood ? 'flood' : 'error'),
    });
    this.guard.listen((data, isBinary) => this.onMessage(data, isBinary));
    this.closed = new Promise((resolve) =>
      ws.once('close', (code, reason) => {
        // A switched leg let go by the call's own server: the call moved on to another room, it did not end.
        if (this.deps.switchedLeg && reason.toString() === SWITCHED_ROOM) this.leftFor = SWITCHED_ROOM;
        // Through a relay: the entry server vanished (1006), or is shutting down (1001).
        if (this.relayed && code === NO_CLOSE_FRAME) this.endReason = 'media-failure';
        if (this.relayed && code === CLOSE.shutdown) this.endReason = 'server-shutdown';
        // Settles whatever ending the call trips: the server waits on it to let the connection go.
        const ending = this.onClose();
        guard(deps.log, 'ending the call', () => undefined).watch(ending);
        void ending.then(
          () => resolve(),
          () => resolve(),
        );
      }),
    );
    ws.on('error', (err: Error & { code?: string }) => {
      // A protocol fault of the peer (a message over maxPayload, 64 KB: ws closes with 1009; bad framing, bad UTF-8).
      if (err.code?.startsWith('WS_ERR_')) this.endReason = 'error';
    });
  }

  get relayed(): boolean {
    return this.deps.relayed ?? false;
  }

  /**
   * Called every 30 s for relayed streams and those switched into a room of another server: a relay that did not
   * answer the last ping lost its server.
   */
  heartbeat(): void {
    if (this.remote) this.remote.relay.heartbeatRoom();
    if (this.relayed) this.endpoint.heartbeat();
  }

  /** Its audio goes through a relay: it came through one, or it was switched into a room of another server. */
  get beats(): boolean {
    return this.relayed || this.remote !== null;
  }

  get tenant(): string {
    return this.claim.tenant;
  }

  /** The room the call is in: its claim's, until it is switched to another. */
  get roomId(): string {
    return this.remote?.roomId ?? this.room?.id ?? this.claim.roomId;
  }

  get callId(): string {
    return this.claim.callId;
  }

  /** The events the tenant's webhooks subscribed to when the call was routed. */
  get subscribed(): readonly CallEventType[] {
    return this.claim.events;
  }

  /**
   * Moves the call from its room into `room` in place, as participant `id` there: the same socket, no round trip to
   * Plivo. The caller hears `room` from its next tick, 20 ms at most later (rooms here share one clock); the old
   * room's members see it leave with reason `switched-room`, the new one's see it join. False, and nothing changed,
   * when the call is not live in a room, or `id` is taken in `room`.
   */
  moveTo(room: Room, id: string = this.id): boolean {
    if (!this.live || room === this.room || room.get(id)) return false;
    this.leaveRoom();
    this.id = id;
    this.room = room;
    room.join(this);
    return true;
  }

  /**
   * Moves the call into room `roomId` of another server, through `relay`: opened there with `leg(roomId, id)`, which
   * seated it. The caller's messages go on to that server as they come, the room's audio comes back; if that server
   * closes the leg, the call ends with its code. False, and nothing changed, when the call is not live in a room.
   */
  moveToRelay(relay: Relay, roomId: string): boolean {
    if (!this.live) return false;
    this.leaveRoom();
    this.remote = { relay, roomId };
    relay.toRoom(startMessage(this.claim.callUuid, this.streamId), false);
    relay.adopt(this.endpoint, (code, lost) => {
      this.endReason = lost ? 'media-failure' : (RELAYED_END_REASONS[code] ?? 'error');
    });
    return true;
  }

  /** The join that seats this call, switched, in room `roomId` of another server, as participant `id` there. */
  leg(roomId: string, id: string = this.id): Join {
    // The leg's `start` (`startMessage`) has no extra headers: the attributes they made travel in its claim.
    const attributes = this.phone.attributes ?? this.claim.attributes;
    return { type: 'plivo', leg: 'switched', claim: { ...this.claim, roomId, agent: null, attributes, participant: { ...this.claim.participant, id } } };
  }

  /** In a room, here or on another server, and its socket open. */
  private get live(): boolean {
    return this.endpoint.open && (this.room !== null || this.remote !== null);
  }

  /** Leaves the room the call is in, here or on another server, for another. */
  private leaveRoom(): void {
    this.room?.leave(this.id, SWITCHED_ROOM);
    this.room = null;
    this.remote?.relay.release(CLOSE.ended, SWITCHED_ROOM);
    this.remote = null;
  }

  deliver(frame: Frame): void {
    this.endpoint.sendAudio(playAudioFrame(frame.mulawBase64), false);
  }

  notify(_event: RoomEvent): void {
    // Callers hear the room; room events are for participants with a control channel.
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    // Switched into a room of another server: that server's leg reads the caller's messages.
    if (this.remote) return this.remote.relay.toRoom(data, isBinary);
    // Nearly every message is a plain `media` frame: its payload is read from the bytes, nothing parsed.
    const frame = mediaFrameOf(data, isBinary);
    if (frame) return this.room ? this.onMedia(frame) : this.outOfOrder();
    const message = parseMessage(data, isBinary);
    if (typeof message === 'string') return void this.guard.bad(message);
    if (message.event === 'start') return this.onStart(message);
    if (!this.room) {
      if (message.event !== 'stop') this.outOfOrder();
      return;
    }
    switch (message.event) {
      case 'media':
        return this.onMedia(mediaOf(message));
      case 'dtmf': {
        const digit = dtmfOf(message);
        if (digit === null) return void this.guard.bad('dtmf without a valid digit');
        // The call's rule may keep key presses from the room (`dtmf: false`).
        if (this.claim.dtmf) this.room.broadcast({ type: 'dtmf', participantId: this.id, digit }, this.id);
        return;
      }
      case 'playedStream': {
        const name = playedOf(message);
        if (name === null) return void this.guard.bad('playedStream without a name');
        this.room.broadcast({ type: 'checkpoint-played', participantId: this.id, name }, this.id);
        return;
      }
      case 'clearedAudio':
        return;
      case 'stop':
        // The caller hung up, unless the call was hung up from its room through Plivo (`kicked`, `removed`).
        this.close(CLOSE.ended, 'stream stopped', this.endReason === 'kicked' || this.endReason === 'removed' ? this.endReason : 'caller-hangup');
        return;
      default:
        this.deps.log.debug('plivo stream: unknown event ignored', { event: eventName(message) });
    }
  }

  private onStart(message: PlivoMessage): void {
    if (this.room) return void this.guard.bad('second start event');
    const { callId, streamId } = startOf(message);
    if (callId !== this.claim.callUuid) {
      this.close(CLOSE.callMismatch, 'start.callId does not match the call this stream was claimed for', 'call-mismatch');
      return;
    }
    clearTimeout(this.startTimer);
    this.streamId = streamId;
    // Read once, before the call joins: the room's members and its agent see them in `participant-joined` and `joined`.
    this.phone = withExtraHeaders(this.phone, extraHeadersOf(message));
    const room = this.deps.rooms.get(this.claim.tenant, this.claim.roomId);
    // An id the call was placed with may be taken in the room (by another such call): never two participants under one.
    if (room.get(this.id)) return this.close(CLOSE.participantIdTaken, `participant id ${this.id} is taken in room ${this.claim.roomId}`, 'participant-id-taken');
    this.room = room;
    room.join(this);
    if (!this.deps.switchedLeg) this.call.answered(this.room, this.phone);
  }

  private outOfOrder(): void {
    this.close(CLOSE.badOrder, 'start must be the first event', 'error');
  }

  private onMedia(media: MediaPayload | null): void {
    if (!media) return void this.guard.bad('media without a valid base64 payload');
    if (this.flood.exceeded(media.bytes)) {
      this.close(CLOSE.flood, 'media faster than 10x real time', 'flood');
      return;
    }
    // Exactly one frame passes on as the text Plivo sent; 216 characters may also carry 161 or 162 bytes (less padding).
    if (media.bytes === PHONE_FRAME_BYTES && this.cutter.empty) {
      this.stats.framesIn++;
      this.input.push(Frame.fromMulawBase64(media.base64));
    } else {
      // Any other length: re-cut into 20 ms frames.
      this.cutter.cut(Buffer.from(media.base64, 'base64'), (bytes) => {
        this.stats.framesIn++;
        this.input.push(Frame.fromMulaw(Uint8Array.prototype.slice.call(bytes)));
      });
    }
    this.input.arrived();
  }

  /** Hangs the call up through Plivo, whose `stop` and close then end the stream; else closes the stream now. */
  private async hangUp(reason: RoomHangupReason, closeStream: () => void): Promise<void> {
    // Why the call leaves its room when Plivo's `stop` comes.
    this.endReason = reason;
    if (!(await this.deps.lifecycle.hangUp(this.claim.tenant, this.claim.callId, reason))) closeStream();
  }

  /** Ends the stream from the server side, recording `why` as the call's hangup reason. */
  close(code: number, reason: string, why: EndReason): void {
    this.endReason = why;
    this.endpoint.close(code, reason);
  }

  /** Its room was deactivated, or its session ended: the call ends (Plivo hangs up once its stream closes). */
  roomClosed(why: RoomEnding): void {
    this.close(ROOM_ENDINGS[why].code, ROOM_ENDINGS[why].reason, why);
  }

  /** Ends the stream from the server side (shutdown). */
  shutdown(): void {
    this.close(SHUTDOWN.code, SHUTDOWN.reason, 'server-shutdown');
  }

  private async onClose(): Promise<void> {
    clearTimeout(this.startTimer);
    this.room?.leave(this.id, this.leftFor ?? this.endReason);
    this.remote?.relay.release(CLOSE.ended, 'call ended');
    const jitter = this.input.stats;
    this.deps.log.info('plivo stream closed', { reason: this.endReason, ...this.stats, underruns: jitter.underruns, jitterTarget: jitter.target, jitterMs: jitter.jitterMs, droppedIn: jitter.dropped, skippedQuietIn: jitter.skipped });
    if (!this.deps.switchedLeg) await this.call.ended(this.endReason);
  }
}
