import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { AgentSession, sessionOptions } from './session';
import { AgentKitError, type SampleRate, type SessionOptions } from './types';

/** The server sends 20 ms frames (1,920 bytes at 48 kHz) and small JSON events: anything near this is not the bridge. */
const MAX_PAYLOAD = 64 * 1024;

export interface AgentServerOptions extends SessionOptions {
  /** @default 0 (any free port: read `server.port`) */
  readonly port?: number;
  /** The address to listen on; the bridge must reach it (in AWS: a public `wss://` address in front of it). @default '127.0.0.1' */
  readonly host?: string;
  /**
   * Whether to take this dial (the agent's registered URL may carry a secret in its query, say). Refused dials get
   * `401` before any socket is opened; the bridge counts that as a failed connect. @default every dial is taken
   */
  readonly authorize?: (request: IncomingMessage) => boolean;
}

export interface AgentServerEvents {
  /** The bridge dialled this agent: `joined` (with the `call` or `dispatch`) is the session's first event. */
  session: [AgentSession];
  error: [Error];
}

/**
 * The agent's end of the bridge's dial: a WebSocket server where the media server connects for each call a routing
 * rule routes to this agent (or each dispatch), at the URL registered with `POST /v2/agents`.
 */
export class AgentServer extends EventEmitter<AgentServerEvents> {
  private readonly sessions = new Set<AgentSession>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
  ) {
    super();
  }

  static async listen(options: AgentServerOptions = {}): Promise<AgentServer> {
    // Checked here, not at each dial: a session's constructor must not throw inside ws's upgrade callback.
    sessionOptions(options);
    const http = createServer((_req, res) => res.writeHead(426, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'This is an agent: connect with a WebSocket', code: 'upgrade_required' })));
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD });
    const server = new AgentServer(http, wss);
    http.on('upgrade', (request: IncomingMessage, socket, head) => {
      try {
        if (options.authorize && !options.authorize(request)) {
          const body = JSON.stringify({ message: 'This agent did not authorize the dial', code: 'unauthorized' });
          socket.end(`HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
          return;
        }
        wss.handleUpgrade(request, socket, head, (ws) => server.accept(ws, options));
      } catch (err) {
        socket.destroy();
        server.report(err);
      }
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        http.off('error', reject);
        resolve();
      });
    });
    http.on('error', (err) => server.report(err));
    return server;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /** The URL to register (`POST /v2/agents {url}`) when the bridge can reach this address as it is. */
  get url(): string {
    const { address, family } = this.http.address() as AddressInfo;
    return `ws://${family === 'IPv6' ? `[${address}]` : address}:${this.port}`;
  }

  /** Closes every session (`1001`) and stops listening. Safe to call again. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.sessions].map((session) => session.close(1001, 'agent shutting down')));
      await new Promise<void>((resolve) => this.wss.close(() => this.http.close(() => resolve())));
    })();
    return this.closing;
  }

  private accept(ws: WebSocket, options: SessionOptions): void {
    const session = new AgentSession(ws, options);
    if (this.closing) return void session.close(1001, 'agent shutting down');
    this.sessions.add(session);
    ws.once('close', () => this.sessions.delete(session));
    try {
      this.emit('session', session);
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    if (this.listenerCount('error') === 0) return;
    try {
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
    } catch {
      // An error listener that throws must not take the server down.
    }
  }
}

export interface DialRoomOptions extends SessionOptions {
  /** A token with `allow_join` and `allow_agent` (or a token the room's tenant minted for agents). */
  readonly token: string;
  readonly roomId: string;
  /** @default 16000 */
  readonly sampleRate?: SampleRate;
}

/**
 * Joins a room as an agent (`/rooms/{roomId}?kind=agent`) on the media server at `mediaUrl` (`ws(s)://host[:port]`);
 * resolves once `joined` came. A refused join rejects with AgentKitError `join_refused` carrying the HTTP `status` and
 * the server's `serverCode` (`forbidden` without `allow_agent`, `room_deactivated`, `room_full`, ...).
 */
export async function dialRoom(mediaUrl: string, options: DialRoomOptions): Promise<AgentSession> {
  const query = new URLSearchParams({ kind: 'agent', sampleRate: String(options.sampleRate ?? 16000) });
  // The token goes in the header, not the query: URLs end up in logs.
  const ws = new WebSocket(`${mediaUrl.replace(/\/+$/, '')}/rooms/${encodeURIComponent(options.roomId)}?${query.toString()}`, { headers: { authorization: `Bearer ${options.token}` } });
  const session = new AgentSession(ws, options);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.on('end', () => {
        let refusal: { message?: unknown; code?: unknown } = {};
        try {
          refusal = JSON.parse(body) as typeof refusal;
        } catch {
          // Not the media server's JSON: the status says it.
        }
        const message = typeof refusal.message === 'string' ? refusal.message : `HTTP ${response.statusCode}`;
        reject(new AgentKitError('join_refused', `the room join was refused: ${message}`, response.statusCode, typeof refusal.code === 'string' ? refusal.code : undefined));
        ws.terminate();
      });
    });
    ws.once('error', (err) => reject(new AgentKitError('socket', `could not join the room: ${err.message}`)));
  });
  await session.ready;
  return session;
}
