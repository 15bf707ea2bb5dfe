import { readFileSync } from 'node:fs';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer, type WebSocket } from 'ws';
import { requirePermission, requireRoomAccess, type Authenticator } from '../../core/auth';
import type { Claim, ClaimStore } from '../../core/claims';
import { ROOM_ID } from '../../core/connectors/schema';
import { ApiError, ServiceUnavailableError } from '../../core/errors';
import { newParticipantId } from '../../core/ids';
import { PlivoAuthTokens } from '../../core/connectors/plivo-tokens';
import type { ConnectorStore } from '../../core/connectors/store';
import type { Logger } from '../../core/log';
import { checkPlivoSignature, SIGNATURE_REFUSALS, type SignatureCheck } from '../../core/plivo/signature';
import type { SecretBox } from '../../core/secret-box';
import type { CallLifecycle } from './calls';
import type { ClusterMember } from './cluster/member';
import { Relay, RELAY_MAX_PAYLOAD, relayJoinSchema, roomOf, type RelayJoin } from './cluster/relay';
import type { RelayAuth } from './cluster/relay-auth';
import { socketGuard, streamGuard, guard, INTERNAL_ERROR, type Guard } from './guard';
import { UpgradeRefused } from './open-socket';
import { PlivoStream, STREAM_CLOSE } from './plivo/stream';
import type { DialOptions } from './room/agent';
import { MediaClock } from './room/clock';
import { ROOM_RATES, type SampleRate } from '../../core/rooms';
import { RoomRegistry } from './room/room';
import { limitMessage, RoomSeats, type RoomLimits, type SeatRefusal, type SeatTaken } from './room/seats';
import { ROOM_CLOSE, RoomSocket } from './room/socket';

export interface MediaServerDeps {
  /** The media region whose claims this server takes. */
  readonly region: string;
  /** Names this server in the claims it takes. */
  readonly serverId: string;
  /** This region's public ingest base (`wss://host`): what Plivo signs the upgrade against. */
  readonly ingestUrl: string;
  readonly claims: ClaimStore;
  readonly connectors: ConnectorStore;
  readonly box: SecretBox;
  readonly lifecycle: CallLifecycle;
  /** Checks room participants' tokens. */
  readonly auth: Authenticator;
  /** This server's room placements in the region. */
  readonly cluster: ClusterMember;
  /** Signs the joins this server relays to peers, and checks those peers relay here. */
  readonly relayAuth: RelayAuth;
  /** Placement lease: how long a joiner waits at most for an unreachable room server's lease to lapse. */
  readonly leaseMs: number;
  /** Rooms per tenant on this server, and seats per room (counted here for the rooms placed here). */
  readonly limits: RoomLimits;
  /** How routing rules' agents are dialled. */
  readonly dial: DialOptions;
  /** How long a Plivo stream may take to send `start`. @default START_TIMEOUT_MS (10 s) */
  readonly startTimeoutMs?: number;
  /** Called whenever a connection comes or goes (task protection follows the load). */
  readonly onLoadChange?: () => void;
  readonly log: Logger;
}

/** Counters since the last metrics report. */
export interface MediaCounters {
  /** Relays that could not be opened, or lost their room's server mid-connection. */
  relayErrors: number;
  /** Plivo streams refused: unknown, used or expired claim, or a bad or missing Plivo signature. */
  claimFailures: number;
}

/** One Plivo message is 20 ms of audio, a few hundred bytes; 64 KB is Plivo's own limit. */
const MAX_PAYLOAD = 64 * 1024;

const refuse = (socket: Duplex, status: number, message: string): void => {
  const body = JSON.stringify({ message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
};

const HEARTBEAT_MS = 30_000;
/** How a relayed connection ends when its room's server vanishes: a call cannot go on; a participant may rejoin. */
const LOST = { plivo: { code: 1011, reason: 'media server lost' }, participant: { code: 1012, reason: 'room server lost: reconnect' } } as const;
/** How participants are moved off a room whose placement another server took over. */
const MOVED = { code: 1012, reason: 'room moved to another server: reconnect' } as const;
const ROOMS_PATH = /^\/rooms\/([^/]+)$/;

/** The web console's files, served at `/console`. */
const CONSOLE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/console': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/console/console.js': { file: 'console.js', type: 'text/javascript; charset=utf-8' },
  '/console/audio-worklet.js': { file: 'audio-worklet.js', type: 'text/javascript; charset=utf-8' },
};
const CONSOLE_HEADERS = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

/**
 * Runs `release` when the socket closes, or at once when it closed already: a client that went away while
 * its join was being checked must not leave its seat or its room's hold taken.
 */
function whenClosed(socket: Duplex, release: () => void, guarded: Guard): void {
  if (socket.destroyed) guarded.run(release);
  else socket.once('close', guarded(release));
}

/**
 * The media server: Plivo's audio streams (`/plivo?ref=...`) into rooms. Every upgrade is authorised
 * before it is accepted: the claim must exist, the Plivo signature must verify when the connector holds
 * an auth token, and then the claim is taken with one conditional write (pending, unexpired -> ours).
 */
export class MediaServer {
  readonly rooms: RoomRegistry;
  readonly clock: MediaClock;
  readonly counters: MediaCounters = { relayErrors: 0, claimFailures: 0 };
  /** Seats in the rooms placed here: every connection seated here holds its own until its socket closes. */
  readonly seats: RoomSeats;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD, perMessageDeflate: false });
  private readonly relayWss = new WebSocketServer({ noServer: true, maxPayload: RELAY_MAX_PAYLOAD, perMessageDeflate: false });
  private readonly streams = new Set<PlivoStream>();
  private readonly participants = new Set<RoomSocket>();
  /** Connections that landed here for rooms placed elsewhere, with what they carry. */
  private readonly relays = new Map<Relay, RelayJoin['type']>();
  private state: 'running' | 'draining' | 'closing' | 'closed' = 'running';
  private closing: Promise<void> | null = null;
  /** Connections authorised and being seated (waiting on placement or a relay): drain and close wait for them. */
  private seating = 0;

  private readonly tokens: PlivoAuthTokens;
  /** One timer pings every room participant, to find half-open connections. */
  private readonly heartbeat: NodeJS.Timeout;
  private readonly consoleFiles = new Map(
    Object.entries(CONSOLE_FILES).map(([path, { file, type }]) => [path, { type, body: readFileSync(join(__dirname, '..', 'console', file)) }]),
  );

  constructor(private readonly deps: MediaServerDeps) {
    this.tokens = new PlivoAuthTokens(deps.box);
    this.clock = new MediaClock((err) => deps.log.error('room tick failed', { err }));
    this.rooms = new RoomRegistry(this.clock, deps.limits);
    this.seats = new RoomSeats(deps.limits);
    // Each connection's beat is guarded on its own: one that throws is ended, the others still beat.
    const beat = (connection: { heartbeat(): void; close(code: number, reason: string, why: 'error'): void }) =>
      guard(deps.log, 'heartbeat', () => connection.close(INTERNAL_ERROR.code, INTERNAL_ERROR.reason, 'error')).run(() => connection.heartbeat());
    this.heartbeat = setInterval(() => {
      this.participants.forEach(beat);
      this.relays.forEach((_, relay) => beat(relay));
      // A relayed stream's peer server could vanish without closing: it must answer pings too.
      this.streams.forEach((stream) => stream.relayed && beat(stream));
    }, HEARTBEAT_MS).unref();
  }

  /** Plivo streams this server holds the socket of: its own and those it relays to other servers. */
  get activeCalls(): number {
    let calls = 0;
    for (const stream of this.streams) if (!stream.relayed) calls++;
    for (const type of this.relays.values()) if (type === 'plivo') calls++;
    return calls;
  }

  /** Any live connection here: a call, a participant, one relayed through, or one being seated. */
  get busy(): boolean {
    return this.streams.size + this.participants.size + this.relays.size + this.seating > 0;
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

  /** Serves the web console (`GET /console`) and `GET /health`; false when the request is for neither. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (path === '/health') {
      this.health(res, false);
      return true;
    }
    const file = this.consoleFiles.get(path);
    if (!file) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Method not allowed' }));
      return true;
    }
    res.writeHead(200, { ...CONSOLE_HEADERS, 'content-type': file.type, 'content-length': file.body.length });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  }

  /** Handles an HTTP upgrade; false when the path is not the media server's. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://media');
    } catch {
      return false;
    }
    const room = ROOMS_PATH.exec(url.pathname);
    if (url.pathname !== '/plivo' && !room) return false;
    socket.on('error', () => socket.destroy());
    const guarded = streamGuard(socket, this.deps.log.child({ path: url.pathname }), 'media upgrade');
    const accepted = room ? this.acceptParticipant(req, socket, head, url, room[1] as string) : this.acceptPlivo(req, socket, head, url);
    guarded.watch(
      accepted.catch((err: unknown) => {
        if (err instanceof ApiError) {
          this.deps.log.warn('media upgrade refused', { status: err.status, what: err.message, path: url.pathname });
          return refuse(socket, err.status, err.message);
        }
        this.deps.log.error('media upgrade failed', { err, path: url.pathname });
        refuse(socket, 503, 'The media server could not check this connection; try again');
      }),
    );
    return true;
  }

  /**
   * A participant joining over the room protocol: a token with `allow_join` for this tenant's room
   * (a participant token only for the room it names), in `Authorization` or `?token=`. Joining as an agent (which
   * may send speech ahead) takes `allow_agent` too: participant tokens, the kind handed to browsers, lack it.
   */
  private async acceptParticipant(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, roomPath: string): Promise<void> {
    if (this.state !== 'running') return refuse(socket, 503, this.unavailable());
    const roomId = ROOM_ID.test(roomPath) ? roomPath : '';
    const token = url.searchParams.get('token');
    const principal = await this.deps.auth.authenticate(req.headers.authorization ?? (token === null ? undefined : `Bearer ${token}`));
    if (!roomId) return refuse(socket, 400, 'Invalid room id: use 1-128 characters of A-Z a-z 0-9 _ -');
    const rate = Number(url.searchParams.get('sampleRate') ?? 16000);
    if (!(ROOM_RATES as readonly number[]).includes(rate)) return refuse(socket, 400, `sampleRate must be one of ${ROOM_RATES.join(', ')}`);
    const kind = url.searchParams.get('kind') ?? 'web';
    if (kind !== 'web' && kind !== 'agent') return refuse(socket, 400, 'kind must be web or agent');
    requireRoomAccess(principal, roomId);
    if (kind === 'agent') requirePermission(principal, 'allow_agent');
    const join: RelayJoin = { type: 'participant', tenant: principal.tenant, roomId, kind, rate: rate as SampleRate, wantsLevels: url.searchParams.get('levels') === '1' };
    await this.seat(join, req, socket, head, this.deps.log.child({ tenant: principal.tenant, roomId }));
  }

  private async acceptPlivo(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const log = this.deps.log;
    if (this.state !== 'running') return refuse(socket, 503, this.unavailable());
    const ref = url.searchParams.get('ref');
    if (!ref || ref.length > 128) {
      log.warn('plivo stream refused: no ref', { status: 401 });
      return refuse(socket, 401, 'The stream URL has no claim ref');
    }
    const found = await this.deps.claims.peek(this.deps.region, ref);
    if (!found) {
      this.counters.claimFailures++;
      log.warn('plivo stream refused: unknown ref', { status: 401 });
      return refuse(socket, 401, 'Unknown claim ref');
    }
    const callLog = log.child({ tenant: found.tenant, callId: found.callId, callUuid: found.callUuid, roomId: found.roomId });
    const signature = await this.signatureCheck(found, req, url);
    if (signature !== 'valid') {
      this.counters.claimFailures++;
      callLog.warn(`plivo stream refused: ${SIGNATURE_REFUSALS[signature]}`, { status: 403 });
      return refuse(socket, 403, SIGNATURE_REFUSALS[signature]);
    }
    const claim = await this.deps.claims.take(this.deps.region, ref, this.deps.serverId);
    if (typeof claim === 'string') {
      const status = claim === 'expired' ? 410 : claim === 'used' ? 403 : 401;
      this.counters.claimFailures++;
      callLog.warn(`plivo stream refused: claim ${claim}`, { status });
      return refuse(socket, status, `Claim ref ${claim}`);
    }
    await this.seat({ type: 'plivo', claim }, req, socket, head, callLog);
  }

  /**
   * Seats an authorised connection in its room: here when the room is placed here (or nobody held it,
   * and now this server does), else relayed to the room's server. A room server that cannot be reached
   * is retried until its lease lapses and the room can be placed again.
   */
  private async seat(join: RelayJoin, req: IncomingMessage, socket: Duplex, head: Buffer, log: Logger): Promise<void> {
    const { tenant, roomId } = roomOf(join);
    const deadline = Date.now() + this.deps.leaseMs + 2000;
    const guarded = streamGuard(socket, log, 'seating');
    this.seating++;
    try {
      for (;;) {
        // Shutting down since the checks began (a call's claim is used by now): a clear refusal.
        if (this.state !== 'running') throw new ServiceUnavailableError(this.unavailable());
        const where = await this.deps.cluster.seat(tenant, roomId);
        if (where.here) {
          // The room stays held here while this connection lasts, whether or not its upgrade completes.
          whenClosed(socket, where.leave, guarded);
          const seat = this.takeSeats(join, socket, where.leave, guarded, log);
          // A participant over a limit is refused before the upgrade; a call is upgraded to be closed with its code.
          if ('limit' in seat && join.type === 'participant') throw new ApiError(429, seat.limit === 'room-full' ? 'room_full' : 'room_limit', seat.message);
          this.upgrade(this.wss, req, socket, head, log, (ws) => ('limit' in seat ? this.turnAway(ws, join, seat, log) : this.seatHere(ws, join, false, log)));
          return;
        }
        let relay: Relay;
        try {
          relay = await Relay.open(where.owner, this.deps.relayAuth, join, LOST[join.type], log);
        } catch (err) {
          // The room is full at its server (seats are counted there): a refusal for the participant, not a relay error.
          if (err instanceof UpgradeRefused && err.status === 429) throw new ApiError(429, 'room_full', limitMessage('room-full', this.deps.limits));
          // The owner refused what it was sent (not a room that moved): trying again would not help.
          const refused = err instanceof UpgradeRefused && err.status !== 409 && err.status !== 503;
          if (refused || Date.now() > deadline) {
            this.counters.relayErrors++;
            log.error("relay to the room's media server failed", { owner: where.owner.serverId, err });
            throw new ServiceUnavailableError("The room's media server cannot be reached; try again");
          }
          log.warn("relay to the room's media server failed; retrying until its lease lapses", { owner: where.owner.serverId, err });
          await sleep(250);
          continue;
        }
        let attached = false;
        whenClosed(socket, () => attached || relay.close(1001, 'the connection went away'), guarded);
        this.upgrade(this.wss, req, socket, head, log, (ws) => {
          attached = true;
          this.track(relay, ws, join, log);
        });
        return;
      }
    } finally {
      this.seating--;
    }
  }

  /**
   * Takes the join's seats in its room here (a call routed to an agent takes two), given back when its socket closes;
   * or, over a limit, gives back the room's hold (`leave`) and says which limit.
   */
  private takeSeats(join: RelayJoin, socket: Duplex, leave: () => void, guarded: Guard, log: Logger): SeatTaken | SeatRefusal {
    const { tenant, roomId } = roomOf(join);
    const seat = this.seats.take(tenant, roomId, join.type === 'plivo' && join.claim.agent ? 2 : 1);
    if (!('limit' in seat)) whenClosed(socket, seat.release, guarded);
    else {
      leave();
      log.warn(`${join.type === 'plivo' ? 'plivo stream' : 'participant'} refused: ${seat.limit}`, { limits: this.deps.limits, seated: this.seats.seatsIn(tenant, roomId), tenantRooms: this.seats.roomsOf(tenant) });
    }
    return seat;
  }

  /**
   * Completes an upgrade: `accepted` runs guarded, so a throw while taking the connection closes it with 1011
   * (ws calls it synchronously: unguarded, the throw would reach the seating code as if the upgrade had failed).
   */
  private upgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, log: Logger, accepted: (ws: WebSocket) => void): void {
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => socketGuard(ws, log, 'accepting a connection').run(() => accepted(ws)));
  }

  /** A call over a room limit: its stream is closed at once with the limit's code, and its record ended with the limit as its reason. */
  private turnAway(ws: WebSocket, join: RelayJoin, refusal: SeatRefusal, log: Logger): void {
    ws.close(refusal.limit === 'room-full' ? STREAM_CLOSE.roomFull : STREAM_CLOSE.roomLimit, refusal.message);
    if (join.type !== 'plivo') return;
    this.deps.lifecycle.ended(join.claim.tenant, join.claim.callId, refusal.limit, null).catch((err: unknown) => log.error('could not record the call as ended', { err }));
  }

  private seatHere(ws: WebSocket, join: RelayJoin, relayed: boolean, log: Logger): void {
    // Closing began while this connection was being seated: it is not taken.
    if (this.stopping) return void ws.close(ROOM_CLOSE.shutdown, 'media server shutting down');
    const guarded = socketGuard(ws, log, 'connection');
    if (join.type === 'plivo') {
      const stream = new PlivoStream(ws, join.claim, { rooms: this.rooms, lifecycle: this.deps.lifecycle, log, relayed, startTimeoutMs: this.deps.startTimeoutMs, dial: this.deps.dial });
      this.streams.add(stream);
      ws.once(
        'close',
        guarded(() => {
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

  private track(relay: Relay, ws: WebSocket, join: RelayJoin, log: Logger): void {
    relay.attach(ws);
    if (this.stopping) relay.close(ROOM_CLOSE.shutdown, 'media server shutting down');
    this.relays.set(relay, join.type);
    this.deps.onLoadChange?.();
    log.info('connection relayed to the room\'s media server', { type: join.type });
    socketGuard(ws, log, 'relayed connection').watch(
      relay.closed.then(async ({ lost }) => {
        this.relays.delete(relay);
        this.deps.onLoadChange?.();
        log.info('relayed connection closed', { type: join.type, lost, ...relay.stats });
        if (!lost) return;
        this.counters.relayErrors++;
        // The call's stream lived on the lost server: nobody else will end its record as promptly.
        if (join.type === 'plivo') await this.deps.lifecycle.failed(join.claim.tenant, join.claim.callId).catch((err: unknown) => log.error('could not record the call as ended', { err }));
      }),
    );
  }

  /**
   * The internal relay port: a peer relays a connection it authorised for a room placed here. The peer
   * proves it reads the region's table with this server's relay secret; the room must still be here.
   */
  handleRelayUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const signed = this.deps.relayAuth.check(req.headers);
    if (!signed.ok) {
      this.deps.log.warn('relayed connection refused', { why: signed.why, status: 403 });
      return refuse(socket, 403, signed.why);
    }
    let join: RelayJoin;
    try {
      join = relayJoinSchema.parse(JSON.parse(Buffer.from(signed.join, 'base64url').toString('utf8')));
    } catch {
      return refuse(socket, 400, 'Relay join header invalid');
    }
    const { tenant, roomId } = roomOf(join);
    const log = this.deps.log.child({ tenant, roomId, relayedFrom: signed.from.slice(0, 64), ...(join.type === 'plivo' && { callId: join.claim.callId, callUuid: join.claim.callUuid }) });
    // A draining server still seats joiners of its own rooms: their calls finish here.
    if (this.stopping) return refuse(socket, 503, 'The media server is shutting down');
    const guarded = streamGuard(socket, log, 'relayed seating');
    this.seating++;
    guarded.watch(this.seatRelayed(join, req, socket, head, guarded, log).finally(() => this.seating--));
  }

  private async seatRelayed(join: RelayJoin, req: IncomingMessage, socket: Duplex, head: Buffer, guarded: Guard, log: Logger): Promise<void> {
    const { tenant, roomId } = roomOf(join);
    let where: Awaited<ReturnType<ClusterMember['seat']>>;
    try {
      where = await this.deps.cluster.seat(tenant, roomId);
    } catch (err) {
      log.warn('relayed connection refused: the room cannot be placed here', { err });
      return refuse(socket, 409, 'The room is not placed on this server');
    }
    if (!where.here) return refuse(socket, 409, 'The room is not placed on this server');
    whenClosed(socket, where.leave, guarded);
    const seat = this.takeSeats(join, socket, where.leave, guarded, log);
    // Over the tenant's rooms here, the room was placed here just now (it had no seats) and is let go again: the
    // peer may place it on itself. A full room refuses a participant; a call is upgraded to be closed with its code.
    if ('limit' in seat && seat.limit === 'room-limit') return refuse(socket, 409, seat.message);
    if ('limit' in seat && join.type === 'participant') return refuse(socket, 429, seat.message);
    this.upgrade(this.relayWss, req, socket, head, log, (ws) => ('limit' in seat ? this.turnAway(ws, join, seat, log) : this.seatHere(ws, join, true, log)));
  }

  /** Another server took over a room this one held (its lease lapsed): its members here are moved off. */
  evict(tenant: string, roomId: string): void {
    for (const stream of this.streams) if (stream.tenant === tenant && stream.roomId === roomId) stream.close(LOST.plivo.code, MOVED.reason, 'media-failure');
    for (const participant of this.participants) if (participant.tenant === tenant && participant.roomId === roomId) participant.close(MOVED.code, MOVED.reason);
  }

  /** Plivo signs the upgrade (GET, V3 headers) when the connector holds an auth token. */
  private async signatureCheck(claim: Claim, req: IncomingMessage, url: URL): Promise<SignatureCheck> {
    const connector = await this.deps.connectors.get(claim.tenant, claim.connectorId);
    const token = connector && (await this.tokens.of(connector));
    if (!token) return 'valid';
    const external = new URL(this.deps.ingestUrl);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]));
    return checkPlivoSignature(token, { method: 'GET', url: `${external.protocol}//${external.host}${url.pathname}${url.search}`, params: new Map(), headers });
  }

  /** Closing (or closed): nothing more is taken, not even a joiner of a room placed here. */
  private get stopping(): boolean {
    return this.state === 'closing' || this.state === 'closed';
  }

  private unavailable(): string {
    return this.state === 'draining' ? 'The media server is draining: it takes no new streams; connect again to reach another' : 'The media server is shutting down';
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
    while (this.busy) {
      for (const stream of this.streams) stream.shutdown();
      for (const participant of this.participants) participant.close(ROOM_CLOSE.shutdown, 'media server shutting down');
      for (const relay of this.relays.keys()) relay.close(ROOM_CLOSE.shutdown, 'media server shutting down');
      await Promise.race([
        Promise.all([
          ...[...this.streams].map((stream) => stream.closed),
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
