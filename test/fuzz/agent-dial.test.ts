import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer } from 'ws';
import { createLogger } from '../../core/log';
import { dialAgent, type DialOptions } from '../../ingest-container/src/calls/agent';
import { MediaClock } from '../../ingest-container/src/room/clock';
import { RoomRegistry } from '../../ingest-container/src/room/registry';
import { newMediaCounters } from '../../ingest-container/src/metrics';

/**
 * Dialling an agent against a server that answers anything at all: random bytes, any HTTP status with any headers,
 * a 101 with a right or wrong accept key followed by any bytes, a proper upgrade and then an immediate close, frames
 * or garbage, a reset or silence, each cut into arbitrary chunks. Whatever it does, the dial settles within its bound
 * (never throws, nothing escapes as an uncaught exception), tries at most three times, and leaves nothing behind in
 * the room but the agent it returned.
 */
const OPTIONS: DialOptions = { retryDelaysMs: [5, 5], connectTimeoutMs: 300, settleMs: 100, publicOnly: false };
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const acceptFor = (key: string) => createHash('sha1').update(key + GUID).digest('base64');

type Behaviour =
  | { kind: 'bytes'; data: Uint8Array }
  | { kind: 'status'; status: number; headers: [string, string][]; body: string }
  | { kind: '101'; rightKey: boolean; after: Uint8Array }
  | { kind: 'upgrade'; then: 'close' | 'terminate' | 'frames' | 'garbage'; frames: (string | Uint8Array)[]; garbage: Uint8Array }
  | { kind: 'reset' }
  | { kind: 'silent' };

const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$/);
const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  fc.record({ kind: fc.constant('bytes' as const), data: fc.uint8Array({ maxLength: 600 }) }),
  fc.record({
    kind: fc.constant('status' as const),
    status: fc.oneof(fc.integer({ min: 100, max: 599 }), fc.constantFrom(301, 302, 307, 308, 403, 404, 426, 502)),
    headers: fc.array(fc.tuple(token, fc.string({ maxLength: 40 }).map((v) => v.replace(/[\r\n]/g, ''))), { maxLength: 5 }),
    body: fc.string({ maxLength: 100 }),
  }),
  fc.record({ kind: fc.constant('101' as const), rightKey: fc.boolean(), after: fc.uint8Array({ maxLength: 200 }) }),
  fc.record({
    kind: fc.constant('upgrade' as const),
    then: fc.constantFrom('close' as const, 'terminate' as const, 'frames' as const, 'garbage' as const),
    frames: fc.array(fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 700 })), { maxLength: 5 }),
    garbage: fc.uint8Array({ minLength: 1, maxLength: 200 }),
  }),
  fc.constant({ kind: 'reset' as const }),
  fc.constant({ kind: 'silent' as const }),
);

let server: Server;
const wss = new WebSocketServer({ noServer: true });
let current: { behaviour: Behaviour; chunk: number } = { behaviour: { kind: 'silent' }, chunk: 1 };
let attempts = 0;
const sockets = new Set<Socket>();

/** Writes `data` in chunks of `size` bytes, a tick apart, unless the socket went away. */
async function writeChunked(socket: Socket, data: Buffer, size: number): Promise<void> {
  for (let i = 0; i < data.length && !socket.destroyed; i += size) {
    socket.write(data.subarray(i, i + size));
    await sleep(1);
  }
}

async function behave(socket: Socket, request: string, head: Buffer): Promise<void> {
  const { behaviour: b, chunk } = current;
  const key = /sec-websocket-key: *(\S+)/i.exec(request)?.[1] ?? '';
  switch (b.kind) {
    case 'bytes':
      return writeChunked(socket, Buffer.from(b.data), chunk);
    case 'status': {
      const lines = [`HTTP/1.1 ${b.status} Whatever`, ...b.headers.map(([n, v]) => `${n}: ${v}`), `content-length: ${Buffer.byteLength(b.body)}`, '', b.body];
      return writeChunked(socket, Buffer.from(lines.join('\r\n')), chunk);
    }
    case '101': {
      const accept = b.rightKey ? acceptFor(key) : acceptFor(key + 'x');
      const reply = `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`;
      return writeChunked(socket, Buffer.concat([Buffer.from(reply), Buffer.from(b.after)]), chunk);
    }
    case 'upgrade': {
      const req = Object.assign(Object.create(null) as object, { method: 'GET', headers: Object.fromEntries(request.split('\r\n').slice(1).filter(Boolean).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()])) });
      return new Promise((resolve) =>
        wss.handleUpgrade(req as never, socket, head, (ws) => {
          ws.on('error', () => undefined);
          if (b.then === 'close') ws.close(1000);
          else if (b.then === 'terminate') ws.terminate();
          else if (b.then === 'frames') b.frames.forEach((frame) => ws.send(frame));
          else socket.write(Buffer.from(b.garbage));
          resolve();
        }),
      );
    }
    case 'reset':
      return void socket.resetAndDestroy();
    case 'silent':
      return;
  }
}

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let received = Buffer.alloc(0);
    const onData = (data: Buffer) => {
      received = Buffer.concat([received, data]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      attempts++;
      void behave(socket, received.subarray(0, end).toString('latin1'), received.subarray(end + 4));
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  sockets.forEach((socket) => socket.destroy());
  await new Promise((resolve) => server.close(resolve));
});

it('any agent server behaviour: the dial settles in bounded time, at most three attempts, nothing escapes or leaks', async () => {
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  const clock = new MediaClock(() => undefined, newMediaCounters());
  const rooms = new RoomRegistry(clock, { maxQueuedAudioBytes: 64 * 1024 * 1024, maxQueuedAudioBytesPerRoom: 8 * 1024 * 1024 }, newMediaCounters(), (err) => {
    throw err;
  });
  const log = createLogger('error', {}, () => undefined);
  const port = (server.address() as { port: number }).port;
  const outcomes = { connected: 0, unreachable: 0 };
  try {
    await fc.assert(
      fc.asyncProperty(behaviour, fc.integer({ min: 1, max: 64 }), async (b, chunk) => {
        current = { behaviour: b, chunk };
        attempts = 0;
        // A room lives while someone is in it: each run's agent dials into a room of its own.
        const room = rooms.get('t1', `fuzz-room-${outcomes.connected + outcomes.unreachable}`);
        const started = performance.now();
        const agent = await dialAgent({ url: `ws://127.0.0.1:${port}/agent`, sampleRate: 16000 }, room, {}, log, new AbortController().signal, OPTIONS);
        const took = performance.now() - started;
        // Three attempts, each its connect timeout and settle time at most, and the waits between them.
        expect(took).toBeLessThan(3 * (OPTIONS.connectTimeoutMs + OPTIONS.settleMs) + 10 + 500);
        expect(attempts).toBeGreaterThanOrEqual(1);
        expect(attempts).toBeLessThanOrEqual(3);
        expect(room.participants().map((p) => p.id)).toEqual(agent ? [agent.id] : []);
        if (agent) {
          outcomes.connected++;
          agent.close(1000, 'done');
          // A server that speaks no WebSocket after its 101 never answers the close: its connection goes now.
          sockets.forEach((socket) => socket.destroy());
          await agent.closed;
        } else {
          outcomes.unreachable++;
          // Nobody ever joined it: close it as the server would, or it keeps the media clock (a timer) running.
          room.close();
        }
        expect(room.participants()).toEqual([]);
        expect(uncaught).toEqual([]);
      }),
      { numRuns: 80 },
    );
  } finally {
    process.off('uncaughtException', onUncaught);
  }
  // Both outcomes were exercised.
  expect(outcomes.connected).toBeGreaterThan(0);
  expect(outcomes.unreachable).toBeGreaterThan(0);
}, 120_000);
