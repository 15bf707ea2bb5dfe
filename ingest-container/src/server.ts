import { readFileSync } from 'node:fs';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { requireRoomAccess, type Authenticator } from '../../core/auth';
import type { Claim, ClaimStore } from '../../core/claims';
import { ROOM_ID } from '../../core/connectors/schema';
import { ApiError } from '../../core/errors';
import { newParticipantId } from '../../core/ids';
import { PlivoAuthTokens } from '../../core/connectors/plivo-tokens';
import type { ConnectorStore } from '../../core/connectors/store';
import type { Logger } from '../../core/log';
import { checkPlivoSignature } from '../../core/plivo/signature';
import type { SecretBox } from '../../core/secret-box';
import type { CallLifecycle } from './calls';
import { PlivoStream } from './plivo/stream';
import { MediaClock } from './room/clock';
import { ROOM_RATES, type SampleRate } from '../../core/rooms';
import { RoomRegistry } from './room/room';
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
  readonly log: Logger;
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
 * The media server: Plivo's audio streams (`/plivo?ref=...`) into rooms. Every upgrade is authorised
 * before it is accepted: the claim must exist, the Plivo signature must verify when the connector holds
 * an auth token, and then the claim is taken with one conditional write (pending, unexpired -> ours).
 */
export class MediaServer {
  readonly rooms: RoomRegistry;
  readonly clock: MediaClock;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD, perMessageDeflate: false });
  private readonly streams = new Set<PlivoStream>();
  private readonly participants = new Set<RoomSocket>();
  private state: 'running' | 'closing' | 'closed' = 'running';

  private readonly tokens: PlivoAuthTokens;
  /** One timer pings every room participant, to find half-open connections. */
  private readonly heartbeat: NodeJS.Timeout;
  private readonly consoleFiles = new Map(
    Object.entries(CONSOLE_FILES).map(([path, { file, type }]) => [path, { type, body: readFileSync(join(__dirname, '..', 'console', file)) }]),
  );

  constructor(private readonly deps: MediaServerDeps) {
    this.tokens = new PlivoAuthTokens(deps.box);
    this.clock = new MediaClock((err) => deps.log.error('room tick failed', { err }));
    this.rooms = new RoomRegistry(this.clock);
    this.heartbeat = setInterval(() => this.participants.forEach((participant) => participant.heartbeat()), HEARTBEAT_MS).unref();
  }

  get activeCalls(): number {
    return this.streams.size;
  }

  /** Serves the web console (`GET /console`); false when the request is not for it. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '').split('?')[0] ?? '';
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
    const accepted = room ? this.acceptParticipant(req, socket, head, url, room[1] as string) : this.acceptPlivo(req, socket, head, url);
    accepted.catch((err: unknown) => {
      if (err instanceof ApiError) {
        this.deps.log.warn('media upgrade refused', { status: err.status, what: err.message, path: url.pathname });
        return refuse(socket, err.status, err.message);
      }
      this.deps.log.error('media upgrade failed', { err, path: url.pathname });
      refuse(socket, 503, 'The media server could not check this connection; try again');
    });
    return true;
  }

  /**
   * A participant joining over the room protocol: a token with `allow_join` for this tenant's room
   * (a participant token only for the room it names), in `Authorization` or `?token=`.
   */
  private async acceptParticipant(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, roomPath: string): Promise<void> {
    if (this.state !== 'running') return refuse(socket, 503, 'The media server is shutting down');
    const roomId = ROOM_ID.test(roomPath) ? roomPath : '';
    const token = url.searchParams.get('token');
    const principal = await this.deps.auth.authenticate(req.headers.authorization ?? (token === null ? undefined : `Bearer ${token}`));
    if (!roomId) return refuse(socket, 400, 'Invalid room id: use 1-128 characters of A-Z a-z 0-9 _ -');
    const rate = Number(url.searchParams.get('sampleRate') ?? 16000);
    if (!(ROOM_RATES as readonly number[]).includes(rate)) return refuse(socket, 400, `sampleRate must be one of ${ROOM_RATES.join(', ')}`);
    const kind = url.searchParams.get('kind') ?? 'web';
    if (kind !== 'web' && kind !== 'agent') return refuse(socket, 400, 'kind must be web or agent');
    requireRoomAccess(principal, roomId);
    if (this.state !== 'running') return refuse(socket, 503, 'The media server is shutting down');
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const id = newParticipantId(kind === 'web' ? 'web_' : 'ag_');
      const room = this.rooms.get(principal.tenant, roomId);
      const log = this.deps.log.child({ tenant: principal.tenant, roomId, participantId: id });
      const participant = new RoomSocket(ws, room, { id, kind, rate: rate as SampleRate, log, wantsLevels: url.searchParams.get('levels') === '1' });
      this.participants.add(participant);
      void participant.closed.then(() => this.participants.delete(participant));
    });
  }

  private async acceptPlivo(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const log = this.deps.log;
    if (this.state !== 'running') return refuse(socket, 503, 'The media server is shutting down');
    const ref = url.searchParams.get('ref');
    if (!ref || ref.length > 128) {
      log.warn('plivo stream refused: no ref', { status: 401 });
      return refuse(socket, 401, 'The stream URL has no claim ref');
    }
    const found = await this.deps.claims.peek(this.deps.region, ref);
    if (!found) {
      log.warn('plivo stream refused: unknown ref', { status: 401 });
      return refuse(socket, 401, 'Unknown claim ref');
    }
    const callLog = log.child({ tenant: found.tenant, callId: found.callId, callUuid: found.callUuid, roomId: found.roomId });
    if (!(await this.signatureValid(found, req, url))) {
      callLog.warn('plivo stream refused: Plivo signature invalid or missing', { status: 403 });
      return refuse(socket, 403, 'Plivo signature invalid or missing');
    }
    const claim = await this.deps.claims.take(this.deps.region, ref, this.deps.serverId);
    if (typeof claim === 'string') {
      const status = claim === 'expired' ? 410 : claim === 'used' ? 403 : 401;
      callLog.warn(`plivo stream refused: claim ${claim}`, { status });
      return refuse(socket, status, `Claim ref ${claim}`);
    }
    // Shutting down since the checks began: the claim is used, but the call gets a clear refusal.
    if (this.state !== 'running') return refuse(socket, 503, 'The media server is shutting down');
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const stream = new PlivoStream(ws, claim, { rooms: this.rooms, lifecycle: this.deps.lifecycle, log: callLog });
      this.streams.add(stream);
      ws.once('close', () => this.streams.delete(stream));
      callLog.info('plivo stream accepted', {});
    });
  }

  /**
   * Plivo signs the upgrade (GET, V3 headers) when the connector holds an auth token. Which URI it signs
   * is not settled, so each candidate form of the URL it called is accepted.
   */
  private async signatureValid(claim: Claim, req: IncomingMessage, url: URL): Promise<boolean> {
    const connector = await this.deps.connectors.get(claim.tenant, claim.connectorId);
    const token = connector && (await this.tokens.of(connector));
    if (!token) return true;
    const external = new URL(this.deps.ingestUrl);
    const pathAndQuery = `${url.pathname}${url.search}`;
    const candidates = [`${external.protocol}//${external.host}${pathAndQuery}`, `https://${external.host}${pathAndQuery}`, `http://${external.host}${pathAndQuery}`];
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]));
    return candidates.some((candidate) => checkPlivoSignature(token, { method: 'GET', url: candidate, params: new Map(), headers }) === 'valid');
  }

  /** Stops taking streams and ends the live ones. Safe to call twice. */
  async close(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'closing';
    clearInterval(this.heartbeat);
    for (const stream of this.streams) stream.shutdown();
    for (const participant of this.participants) participant.close(ROOM_CLOSE.shutdown, 'media server shutting down');
    await Promise.all([...[...this.streams].map((stream) => stream.closed), ...[...this.participants].map((participant) => participant.closed)]);
    this.wss.close();
    this.state = 'closed';
  }
}
