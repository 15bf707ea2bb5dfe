import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Claim, ClaimStore } from '../../core/claims';
import { PlivoAuthTokens } from '../../core/connectors/plivo-tokens';
import type { ConnectorStore } from '../../core/connectors/store';
import type { Logger } from '../../core/log';
import { checkPlivoSignature } from '../../core/plivo/signature';
import type { SecretBox } from '../../core/secret-box';
import type { CallLifecycle } from './calls';
import { PlivoStream } from './plivo/stream';
import { MediaClock } from './room/clock';
import { RoomRegistry } from './room/room';

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
  readonly log: Logger;
}

/** One Plivo message is 20 ms of audio, a few hundred bytes; 64 KB is Plivo's own limit. */
const MAX_PAYLOAD = 64 * 1024;

const refuse = (socket: Duplex, status: number, message: string): void => {
  const body = JSON.stringify({ message });
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 410 ? 'Gone' : status === 404 ? 'Not Found' : status === 503 ? 'Service Unavailable' : 'Bad Request'}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
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
  private state: 'running' | 'closing' | 'closed' = 'running';

  private readonly tokens: PlivoAuthTokens;

  constructor(private readonly deps: MediaServerDeps) {
    this.tokens = new PlivoAuthTokens(deps.box);
    this.clock = new MediaClock((err) => deps.log.error('room tick failed', { err }));
    this.rooms = new RoomRegistry(this.clock);
  }

  get activeCalls(): number {
    return this.streams.size;
  }

  /** Handles an HTTP upgrade; false when the path is not the media server's. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://media');
    if (url.pathname !== '/plivo') return false;
    socket.on('error', () => socket.destroy());
    this.acceptPlivo(req, socket, head, url).catch((err: unknown) => {
      this.deps.log.error('plivo upgrade failed', { err });
      refuse(socket, 503, 'The media server could not check this stream; Plivo will retry');
    });
    return true;
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
    for (const stream of this.streams) stream.shutdown();
    await Promise.all([...this.streams].map((stream) => stream.closed));
    this.wss.close();
    this.state = 'closed';
  }
}
