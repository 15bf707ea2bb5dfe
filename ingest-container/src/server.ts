import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer, type WebSocket } from 'ws';
import { newParticipantId } from '../../core/ids';
import type { Logger } from '../../core/log';
import { roomOf, type Join } from './admission/join';
import type { DialOptions } from './calls/agent';
import type { CallLifecycle, EndReason } from './calls/lifecycle';
import type { HeldCalls } from './calls/switch-room';
import { LIMITS } from './cluster/capacity';
import { newMediaCounters, type MediaCounters } from './metrics';
import type { ClusterMember } from './cluster/member';
import { RELAY_MAX_PAYLOAD, type Relay } from './cluster/relay';
import type { RoomHold, Seated } from './cluster/seating';
import { PlivoStream } from './plivo/stream';
import { MediaClock } from './room/clock';
import { RoomRegistry } from './room/registry';
import type { RoomWatchers } from './room/room';
import { RoomSocket } from './room/socket';
import type { RoomLimits } from './cluster/capacity';
import { CLOSE, INTERNAL_ERROR, REMOVED, ROOM_DEACTIVATED, ROOM_ENDINGS, SHUTDOWN, type RoomEnding } from './transport/close-codes';
import { guard, socketGuard } from './transport/guard';
import { Refusal } from './transport/refuse';

export interface ConnectionsDeps {
  /** Names this server in `/health` on the relay port. */
  readonly serverId: string;
  readonly lifecycle: CallLifecycle;
  /** Drained with this server. */
  readonly cluster: ClusterMember;
  /** Records each room's sessions (core/sessions); none: they are not recorded. */
  readonly sessions?: RoomWatchers;
  readonly limits: RoomLimits;
  /** How routing rules' agents are dialled. */
  readonly dial: DialOptions;
  /** How long a Plivo stream may take to send `start`. @default START_TIMEOUT_MS (10 s) */
  readonly startTimeoutMs?: number;
  /** Called whenever a connection comes or goes (task protection follows the load). */
  readonly onLoadChange?: () => void;
  /** The room's server closed a connection relayed from here because the room was deactivated. */
  readonly onRoomDeactivated?: (tenant: string, roomId: string) => void;
  /** Whether this server knows the room to be deactivated (it closed it, or learnt so from a relay): no read. */
  readonly knownDeactivated?: (tenant: string, roomId: string) => boolean;
  readonly log: Logger;
}

/** One Plivo message is 20 ms of audio, a few hundred bytes; 64 KB is Plivo's own limit. */
const MAX_PAYLOAD = 64 * 1024;
const HEARTBEAT_MS = 30_000;
/** How participants are moved off a room whose placement another server took over. */
const MOVED_REASON = 'room moved to another server: reconnect';

/**
 * The media server's live connections: calls, room participants and relays, from their upgrade to their close; their
 * heartbeat, eviction from a room that moved, and drain. Every connection it takes was admitted and seated first.
 */
export class Connections implements HeldCalls {
  readonly rooms: RoomRegistry;
  readonly clock: MediaClock;
  /** What this server counted since its last metrics report: its rooms, clock and connections count into it. */
  readonly counters: MediaCounters = newMediaCounters();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD, perMessageDeflate: false });
  private readonly relayWss = new WebSocketServer({ noServer: true, maxPayload: RELAY_MAX_PAYLOAD, perMessageDeflate: false });
  /** The calls whose stream is here, with the hold each has on its room (null: held where the stream was seated, until it closes). */
  private readonly streams = new Map<PlivoStream, RoomHold | null>();
  private readonly participants = new Set<RoomSocket>();
  /** Connections that landed here for rooms placed elsewhere, with what they carry. */
  private readonly relays = new Map<Relay, Join['type']>();
  private state: 'running' | 'draining' | 'closing' | 'closed' = 'running';
  private closing: Promise<void> | null = null;
  /** Connections being admitted and seated (checks, placement, a relay), not upgraded yet: drain and close wait for them. */
  private admitting = 0;
  /** One timer pings every room participant, to find half-open connections. */
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly deps: ConnectionsDeps) {
    this.clock = new MediaClock((err) => deps.log.error('room tick failed', { err }), this.counters);
    this.rooms = new RoomRegistry(this.clock, deps.limits, this.counters, (err, ids) => deps.log.error('room participant failed: the room goes on', { err, ...ids }), deps.sessions);
    // Each connection's beat is guarded on its own: one that throws is ended, the others still beat.
    const beat = (connection: { heartbeat(): void; close(code: number, reason: string, why: 'error'): void }) =>
      guard(deps.log, 'heartbeat', () => connection.close(INTERNAL_ERROR.code, INTERNAL_ERROR.reason, 'error')).run(() => connection.heartbeat());
    this.heartbeat = setInterval(() => {
      this.participants.forEach(beat);
      this.relays.forEach((_, relay) => beat(relay));
      // A relayed stream's peer server (or a switched one's room server) could vanish without closing: it must answer pings too.
      this.streams.forEach((_, stream) => stream.beats && beat(stream));
    }, HEARTBEAT_MS).unref();
  }

  /** Plivo streams this server holds the socket of: its own and those it relays to other servers. */
  get activeCalls(): number {
    let calls = 0;
    for (const stream of this.streams.keys()) if (!stream.relayed) calls++;
    for (const type of this.relays.values()) if (type === 'plivo') calls++;
    return calls;
  }

  /** Any live connection here: a call, a participant, one relayed through, or one being seated. */
  get busy(): boolean {
    return this.streams.size + this.participants.size + this.relays.size + this.admitting > 0;
  }

  /**
   * `GET /health`: 200 while serving, 503 once draining (the load balancer stops sending new streams here). The
   * public port says only that; the internal relay port (`detailed`) also names the server and counts its load.
   */
  health(res: ServerResponse, detailed: boolean): void {
    const status = this.state === 'running' ? 'serving' : 'draining';
    res.writeHead(status === 'serving' ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(detailed ? { status, serverId: this.deps.serverId, activeCalls: this.activeCalls, rooms: this.rooms.count } : { status }));
  }

  /** Throws a `Refusal` once joins are no longer taken: draining takes none but those relayed in, closing none at all. */
  checkOpen(relayed: boolean): void {
    if (this.stopping) throw new Refusal('shutting_down', 'The media server is shutting down');
    if (this.state === 'draining' && !relayed) throw new Refusal('draining', 'The media server is draining: it takes no new streams; connect again to reach another');
  }

  /** Counts a connection being admitted and seated (before its upgrade) as live until `work` settles. */
  async admit(work: Promise<void>): Promise<void> {
    this.admitting++;
    try {
      await work;
    } finally {
      this.admitting--;
    }
  }

  /**
   * Completes a seated join's upgrade and takes the connection. The acceptance runs guarded, so a throw while taking
   * it closes it with 1011 (ws calls it synchronously: unguarded, the throw would reach the seating code as if the
   * upgrade had failed).
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, join: Join, seated: Seated, relayed: boolean, log: Logger): void {
    (relayed ? this.relayWss : this.wss).handleUpgrade(req, socket, head, (ws: WebSocket) =>
      socketGuard(ws, log, 'accepting a connection').run(() => {
        if (seated.at === 'relay') this.track(seated.relay, ws, join, log);
        else if (seated.over) this.turnAway(ws, join, { code: LIMITS[seated.over.limit].close, reason: seated.over.message }, seated.over.limit, log);
        // A call routed just before its room was deactivated, whose stream came after the room was closed here.
        else if (join.type === 'plivo' && this.deps.knownDeactivated?.(join.claim.tenant, join.claim.roomId)) this.turnAway(ws, join, ROOM_DEACTIVATED, 'room-deactivated', log);
        else this.accept(ws, join, relayed, log, seated.hold);
      }),
    );
  }

  /**
   * A call over a room limit, or for a deactivated room: its stream is closed at once with `close`, and its record
   * ended with `why` (a switched call's leg is ended by the call's own server, which hears the code).
   */
  private turnAway(ws: WebSocket, join: Join, close: { readonly code: number; readonly reason: string }, why: EndReason, log: Logger): void {
    ws.close(close.code, close.reason);
    if (join.type !== 'plivo' || join.leg === 'switched') return;
    this.deps.lifecycle.ended(join.claim.tenant, join.claim.callId, why, null, join.claim.events).catch((err: unknown) => log.error('could not record the call as ended', { err }));
  }

  private accept(ws: WebSocket, join: Join, relayed: boolean, log: Logger, hold: RoomHold | null): void {
    // Closing began while this connection was being seated: it is not taken.
    if (this.stopping) return void ws.close(SHUTDOWN.code, SHUTDOWN.reason);
    const guarded = socketGuard(ws, log, 'connection');
    if (join.type === 'plivo') {
      const stream = new PlivoStream(ws, join.claim, { rooms: this.rooms, lifecycle: this.deps.lifecycle, log, relayed, startTimeoutMs: this.deps.startTimeoutMs, dial: this.deps.dial, switchedLeg: join.leg === 'switched' });
      this.streams.set(stream, hold);
      ws.once(
        'close',
        guarded(() => {
          this.streams.get(stream)?.release();
          this.streams.delete(stream);
          this.deps.onLoadChange?.();
        }),
      );
      log.info(relayed ? 'plivo stream accepted (relayed)' : 'plivo stream accepted', {});
    } else {
      const id = newParticipantId(join.kind === 'web' ? 'web_' : 'ag_');
      const room = this.rooms.get(join.tenant, join.roomId);
      const participant = new RoomSocket(ws, room, { id, kind: join.kind, rate: join.rate, log: log.child({ participantId: id }), wantsLevels: join.wantsLevels });
      this.participants.add(participant);
      guarded.watch(
        participant.closed.then(() => {
          this.participants.delete(participant);
          this.deps.onLoadChange?.();
        }),
      );
    }
    this.deps.onLoadChange?.();
  }

  private track(relay: Relay, ws: WebSocket, join: Join, log: Logger): void {
    relay.attach(ws);
    if (this.stopping) relay.close(SHUTDOWN.code, SHUTDOWN.reason);
    this.relays.set(relay, join.type);
    this.deps.onLoadChange?.();
    log.info("connection relayed to the room's media server", { type: join.type });
    socketGuard(ws, log, 'relayed connection').watch(
      relay.closed.then(async ({ lost, code }) => {
        this.relays.delete(relay);
        this.deps.onLoadChange?.();
        log.info('relayed connection closed', { type: join.type, lost, ...relay.stats });
        if (code === CLOSE.roomDeactivated) {
          const { tenant, roomId } = roomOf(join);
          this.deps.onRoomDeactivated?.(tenant, roomId);
        }
        if (!lost) return;
        this.counters.relayErrors++;
        // The call's stream lived on the lost server: nobody else will end its record as promptly.
        if (join.type === 'plivo') await this.deps.lifecycle.failed(join.claim.tenant, join.claim.callId, join.claim.events).catch((err: unknown) => log.error('could not record the call as ended', { err }));
      }),
    );
  }

  /**
   * An agent this server dialled into a room placed here (`POST /v2/agent/dispatch`): a participant like one that joined
   * (closed with its room, moved off, drained), its room `hold` given back as it closes.
   */
  adopt(agent: RoomSocket, hold: RoomHold): void {
    const log = this.deps.log.child({ participantId: agent.id });
    if (this.stopping) agent.close(SHUTDOWN.code, SHUTDOWN.reason);
    this.participants.add(agent);
    this.deps.onLoadChange?.();
    agent.closed
      .then(() => {
        this.participants.delete(agent);
        hold.release();
        this.deps.onLoadChange?.();
      })
      .catch((err: unknown) => log.error('dispatched agent close failed', { err }));
  }

  /** The tenant's call `callId`, when its stream is here. */
  find(tenant: string, callId: string): PlivoStream | undefined {
    for (const stream of this.streams.keys()) if (stream.callId === callId && stream.tenant === tenant) return stream;
    return undefined;
  }

  /** The call moved rooms (switch-room): it holds `hold` now (null: its room is on another server), and the room it left is given back. */
  rehold(stream: PlivoStream, hold: RoomHold | null): void {
    if (!this.streams.has(stream)) return hold?.release();
    this.streams.get(stream)?.release();
    this.streams.set(stream, hold);
  }

  /** Another server took over a room this one held (its lease lapsed): its members here are moved off. */
  evict(tenant: string, roomId: string): void {
    this.rooms.find(tenant, roomId)?.abandon();
    for (const stream of this.streams.keys()) if (stream.tenant === tenant && stream.roomId === roomId) stream.close(CLOSE.error, MOVED_REASON, 'media-failure');
    for (const participant of this.participants) if (participant.tenant === tenant && participant.roomId === roomId) participant.close(CLOSE.moved, MOVED_REASON);
  }

  /**
   * Room `roomId` was deactivated, or its session ended (`why`): its calls here end with `why` and its participants are
   * closed, all with 4410 (deactivated) or 4411 (session ended); so are the legs relayed in from other servers, whose
   * own servers pass the code on.
   */
  closeRoom(tenant: string, roomId: string, why: RoomEnding): void {
    const { code, reason } = ROOM_ENDINGS[why];
    for (const stream of this.streams.keys()) if (stream.tenant === tenant && stream.roomId === roomId) stream.roomClosed(why);
    for (const participant of this.participants) if (participant.tenant === tenant && participant.roomId === roomId) participant.close(code, reason);
  }

  /**
   * Takes participant `participantId` out of room `roomId` (`POST /v2/sessions/participants/remove`): a phone's call is
   * hung up through Plivo (`removed`), a web or agent participant closed with 4001. False when it is not in the room here.
   */
  removeParticipant(tenant: string, roomId: string, participantId: string): boolean {
    const member = this.rooms.find(tenant, roomId)?.get(participantId);
    if (!member) return false;
    if (member.phoneControl) member.phoneControl.hangup('removed');
    else if (member instanceof RoomSocket) member.close(REMOVED.code, REMOVED.reason);
    return true;
  }

  /** Closing (or closed): nothing more is taken, not even a joiner of a room placed here. */
  private get stopping(): boolean {
    return this.state === 'closing' || this.state === 'closed';
  }

  /**
   * Graceful drain (SIGTERM): no new streams or rooms, `/health` answers 503, live calls go on until they
   * end or `timeoutMs` passes; then whatever is left is ended as by `close`.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'draining';
    await this.deps.cluster.drain();
    this.deps.log.info('draining: taking no new streams', { activeCalls: this.activeCalls, timeoutMs });
    const deadline = Date.now() + timeoutMs;
    while (this.busy && Date.now() < deadline) await sleep(Math.min(250, Math.max(1, deadline - Date.now())));
    if (this.busy) this.deps.log.warn('drain timed out: ending the calls left', { activeCalls: this.activeCalls });
    await this.close();
  }

  /** Stops taking streams and ends the live ones (and any still being seated). Safe to call twice. */
  close(): Promise<void> {
    return (this.closing ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    this.state = 'closing';
    clearInterval(this.heartbeat);
    // The rooms' sessions end here, but the rooms live on (an autoCloseConfig deactivation is not theirs to make).
    this.rooms.abandonAll();
    while (this.busy) {
      for (const stream of this.streams.keys()) stream.shutdown();
      for (const participant of this.participants) participant.close(SHUTDOWN.code, SHUTDOWN.reason);
      for (const relay of this.relays.keys()) relay.close(SHUTDOWN.code, SHUTDOWN.reason);
      await Promise.race([
        Promise.all([
          ...[...this.streams.keys()].map((stream) => stream.closed),
          ...[...this.participants].map((participant) => participant.closed),
          ...[...this.relays.keys()].map((relay) => relay.closed),
        ]),
        // Connections still being seated end as they arrive (refused, or closed once upgraded): look again.
        sleep(100),
      ]);
    }
    this.wss.close();
    this.relayWss.close();
    this.state = 'closed';
  }
}
