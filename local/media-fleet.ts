import { fork, type ChildProcess } from 'node:child_process';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from '../core/log';
import { handOff } from '../ingest-container/src/handoff';
import { refuse } from '../ingest-container/src/transport/refuse';

/** One of `npm start`'s media servers: the container's own entry point, in its own process. */
export interface LocalMediaServer {
  readonly serverId: string;
  readonly pid: number;
  /** Its public base, `ws://127.0.0.1:<port>` (the local load balancer spreads connections over these). */
  readonly url: string;
  /** Its internal relay port's base, `ws://127.0.0.1:<relay port>`: where its detailed `/health` is. */
  readonly relayUrl: string;
}

interface Member extends LocalMediaServer {
  readonly child: ChildProcess;
  readonly port: number;
  healthy: boolean;
  /** It said it is draining: out of the rotation for good, whatever a check in flight then answers. */
  draining: boolean;
}

const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'ingest-container', 'src', 'main.ts');
const READY_TIMEOUT_MS = 30_000;
/**
 * As a load balancer's health check (the region's NLB checks every 10 s): a server that stopped answering leaves the
 * rotation within this. A draining one leaves it at once: it says so over IPC, as ECS deregisters a stopping task.
 */
const HEALTH_INTERVAL_MS = 5000;
/** How long one check may take before it counts as failed. */
const HEALTH_TIMEOUT_MS = 1000;

const NO_SERVER = { status: 503, code: 'unavailable', message: 'No media server is serving' } as const;
const NO_ANSWER = { status: 502, code: 'bad_gateway', message: 'The media server did not answer' } as const;
const answer = (res: ServerResponse, { status, code, message }: typeof NO_SERVER | typeof NO_ANSWER) =>
  void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ message, code }));

/** Lines a media server writes: its log records, forwarded as they are; anything else (Node's warnings) to stderr. */
function forwardLines(child: ChildProcess, log: Logger): void {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('{')) log.forward(line);
        else if (line.trim()) process.stderr.write(`${line}\n`);
      }
    });
  }
}

/**
 * `npm start`'s media plane: N media servers (`MEDIA_SERVERS`), each the container's `main.ts` in its own
 * process on its own ports, sharing the local DynamoDB as tasks share their region's table, behind a
 * round-robin load balancer with health checks, as the region's NLB is. A server that exits (killed, or
 * drained) leaves the rotation.
 */
export class MediaFleet {
  private next = 0;
  private readonly health: NodeJS.Timeout;

  private constructor(
    private readonly members: Member[],
    private readonly log: Logger,
  ) {
    this.health = setInterval(() => void this.checkHealth().catch((err: unknown) => log.error('media health check failed', { err })), HEALTH_INTERVAL_MS).unref();
  }

  static async start(count: number, env: Readonly<Record<string, string>>, log: Logger): Promise<MediaFleet> {
    const started = await Promise.allSettled(Array.from({ length: count }, () => spawnServer(env, log)));
    const members = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(members.map((member) => stopChild(member.child)));
      throw failed.reason;
    }
    return new MediaFleet(members, log);
  }

  get servers(): LocalMediaServer[] {
    return this.members.map(({ serverId, pid, url, relayUrl }) => ({ serverId, pid, url, relayUrl }));
  }

  /**
   * Hands a WebSocket upgrade to the next healthy server: the connection itself, over IPC, with the request head
   * read here, so its media flows between the client and that server and never through this process.
   */
  handOffUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const target = this.pick();
    socket.on('error', () => socket.destroy());
    if (!target) return refuse(socket, NO_SERVER);
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    // Node decodes header bytes as latin1; the bytes read past the head go along (a WebSocket client sends none before the 101).
    const read = [Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head, (socket.read() as Buffer | null) ?? Buffer.alloc(0)];
    // A plain HTTP server's upgrade socket is a net.Socket, whose handle Node can pass. Sent as its server's connection,
    // Node would make that server a cluster primary whose close() never completes once the children have exited; sent
    // bare, it is counted off the server when its emptied copy here is destroyed.
    const connection = socket as Socket & { server: unknown };
    connection.server = null;
    target.child.send(handOff(Buffer.concat(read)), connection, (err) => {
      try {
        // The server went away since the last health check: say so, as a load balancer would.
        if (err) refuse(socket, NO_ANSWER);
        else socket.destroy();
      } catch (fault) {
        this.dropConnection(fault, socket);
      }
    });
  }

  /** Passes an HTTP request (the web console's files) to the next healthy server. */
  proxyRequest(req: IncomingMessage, res: ServerResponse): void {
    const target = this.pick();
    if (!target) return answer(res, NO_SERVER);
    const upstream = request({ host: '127.0.0.1', port: target.port, path: req.url, method: req.method, headers: req.headers }, (reply) => {
      try {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.on('error', () => res.destroy()).pipe(res);
      } catch (err) {
        this.dropConnection(err, res, reply);
      }
    });
    upstream.on('error', () => (res.headersSent ? res.destroy() : answer(res, NO_ANSWER)));
    req.pipe(upstream);
  }

  /** Stops every server at once (SIGINT: live calls end and are recorded). */
  async close(): Promise<void> {
    clearInterval(this.health);
    await Promise.all(this.members.map((member) => stopChild(member.child)));
  }

  /** A fault while handing off or proxying ends that one connection, never `npm start`. */
  private dropConnection(err: unknown, ...ends: { destroy(): void }[]): void {
    this.log.error('media balancer: a connection failed and was dropped', { err });
    for (const end of ends) end.destroy();
  }

  private pick(): Member | undefined {
    const live = this.members.filter((m) => m.healthy && m.child.exitCode === null && m.child.signalCode === null);
    if (live.length === 0) return undefined;
    return live[this.next++ % live.length];
  }

  private async checkHealth(): Promise<void> {
    await Promise.all(
      this.members.map(async (member) => {
        if (member.draining || member.child.exitCode !== null || member.child.signalCode !== null) return void (member.healthy = false);
        const healthy = await fetch(`http://127.0.0.1:${member.port}/health`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) }).then(
          (res) => res.ok,
          () => false,
        );
        if (healthy !== member.healthy) this.log.info(healthy ? 'media server healthy' : 'media server unhealthy: out of rotation', { serverId: member.serverId });
        member.healthy = healthy && !member.draining;
      }),
    );
  }
}

/** A stack started with `--cpu-prof` (as `bench:* --profile` does) profiles its media servers too. */
const PROFILING = process.execArgv.filter((arg) => arg.startsWith('--cpu-prof'));

function spawnServer(env: Readonly<Record<string, string>>, log: Logger): Promise<Member> {
  // Its own process group: a terminal's Ctrl-C reaches `npm start` alone, which stops the servers before the store
  // (they end live calls in it); it also stops with its parent, when the IPC channel closes.
  const child = fork(MAIN, [], { cwd: ROOT, env, execArgv: ['--import', 'tsx', ...PROFILING], stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true });
  forwardLines(child, log);
  let member: Member | undefined;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('A media server did not start within 30 s'));
    }, READY_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`A media server exited before it was ready (${signal ?? code}); its log is above`));
    });
    child.on('message', (message: { type?: string; serverId?: string; port?: number; relayPort?: number }) => {
      if (message.type === 'draining' && member) {
        log.info('media server draining: out of rotation', { serverId: member.serverId });
        member.draining = true;
        member.healthy = false;
      }
      if (message.type !== 'ready' || !message.serverId || !message.port) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.once('exit', (code, signal) => log.info('media server exited', { serverId: message.serverId, code, signal }));
      member = { child, serverId: message.serverId, pid: child.pid as number, port: message.port, url: `ws://127.0.0.1:${message.port}`, relayUrl: `ws://127.0.0.1:${message.relayPort}`, healthy: true, draining: false };
      resolve(member);
    });
  });
}

/** SIGINT, then SIGKILL if it has not exited within 15 s. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGINT');
  });
}
