import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import { WebSocketServer } from 'ws';
import { tone, toneLevel } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { RoomPeer, type RoomMessage } from '../../tools/room-peer';
import { apiRequest, NODE_TSX, ROOT, localProcessPerFile, waitFor } from '../support/local-process';
import { flatCalls } from '../support/calls';

/**
 * Every way dialling a routing rule's (or a dispatched) agent can fail, each against a real local server that behaves that way: the
 * call stays in its room, the dial is retried as docs/room-protocol.md says (three attempts), the record ends with
 * `agentStatus: "unreachable"`, and the media server lives on: another tenant's participant, in another room on the
 * same server, stays connected and keeps hearing its room throughout.
 */
const local = localProcessPerFile('agent-dial-');
const api = (method: string, path: string, body?: unknown) => apiRequest(local.stack, method, path, body);

/** What the misbehaving agent server does with an upgrade to each path. */
const BEHAVIOURS: Record<string, (socket: Duplex, server: { accept: (socket: Duplex) => void; port: number }) => void> = {
  'status-404': (socket) => socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'),
  'status-403': (socket) => socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'),
  'status-502': (socket) => socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'),
  // No redirect is followed: the target below must never be reached.
  redirect: (socket, { port }) => socket.end(`HTTP/1.1 302 Found\r\nlocation: ws://127.0.0.1:${port}/good\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`),
  reset: (socket) => (socket as Duplex & { resetAndDestroy(): void }).resetAndDestroy(),
  // Never answers: the 3 s handshake timeout.
  silent: () => undefined,
  'bad-accept': (socket) =>
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n'),
  'accept-close': (socket, { accept }) => accept(socket),
};
const MODES = [...Object.keys(BEHAVIOURS), 'tls'];

let agents: Server;
const hits = new Map<string, number>();
const hit = (path: string) => hits.set(path, (hits.get(path) ?? 0) + 1);
const held: Duplex[] = [];

beforeAll(async () => {
  const wss = new WebSocketServer({ noServer: true });
  agents = createServer((req, res) => res.writeHead(400).end());
  const port = () => (agents.address() as { port: number }).port;
  agents.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').slice(1);
    hit(path);
    held.push(socket);
    const accept = (s: Duplex) => wss.handleUpgrade(req, s, head, (ws) => ws.close(1000, 'bye'));
    BEHAVIOURS[path]?.(socket, { accept, port: port() });
  });
  // A TLS ClientHello is no HTTP request: what the wss:// dial sent.
  agents.on('clientError', (_err, socket) => {
    hit('tls');
    socket.destroy();
  });
  await new Promise<void>((resolve) => agents.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  held.forEach((socket) => socket.destroy());
  await new Promise((resolve) => agents.close(resolve));
});

const callRecord = (call: SimulatedCall) =>
  waitFor(async () => {
    const { data } = await api('GET', '/v2/sip/call?perPage=100');
    const found = flatCalls({ data }).find((c) => c.callUuid === call.callUuid);
    return found && found.agentStatus !== 'pending' ? found : undefined;
  }, 20_000);

it('every dial failure leaves the call in its room, is retried twice, ends unreachable; another tenant on the server keeps its audio', async () => {
  const port = (agents.address() as { port: number }).port;
  // Another tenant's room on the same media server: one speaks all along, the other must keep hearing it.
  const { stdout } = await promisify(execFile)(NODE_TSX[0], [...NODE_TSX.slice(1), 'tools/token.ts', '--apikey', 'bystander', '--permissions', 'allow_join'], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: local.dataDir },
  });
  const bystanders = await Promise.all([0, 1].map(() => RoomPeer.join(local.stack.info.mediaUrl, 'bystander-room', { token: stdout.trim() })));
  const [speaker, listener] = bystanders as [RoomPeer, RoomPeer];
  let speaking = true;
  const speech = (async () => {
    while (speaking && speaker.closeCode === null) await speaker.play(tone(700, 0.5, 16000, 16000));
  })();

  const { data: connector } = await api('POST', '/v2/connectors', { provider: 'plivo', defaultRoomId: 'unused' });
  const calls = await Promise.all(
    MODES.map(async (mode, i) => {
      const to = `1415555${String(700 + i).padStart(4, '0')}`;
      const url = mode === 'tls' ? `wss://127.0.0.1:${port}/tls` : `ws://127.0.0.1:${port}/${mode}`;
      const agent = await api('POST', '/v2/agents', { name: mode, url });
      const rule = await api('POST', '/v2/sip/routing-rule', { name: mode, type: 'inbound', phoneNumbers: [`+${to}`], room: { type: 'static', id: `dial-${mode}` }, agentId: agent.body.id });
      expect(rule.status).toBe(201);
      const peer = await RoomPeer.join(local.stack.info.mediaUrl, `dial-${mode}`, { token: local.stack.info.token });
      const call = new SimulatedCall({ answerUrl: connector.webhookUrl as string, to });
      await call.start();
      return { mode, call, peer };
    }),
  );

  for (const { mode, call, peer } of calls) {
    const record = await callRecord(call);
    expect({ mode, ...record }).toMatchObject({ mode, agentStatus: 'unreachable', status: 'answered' });
    expect({ mode, attempts: hits.get(mode) }).toEqual({ mode, attempts: 3 });
    // Still in its room: the room's participant hears the caller.
    await call.play(tone(650, 0.6));
    await peer.until(() => (toneLevel(peer.receivedPcm(), 650, 16000) > 4000 ? true : undefined), `${mode}: the caller heard in its room`);
    expect(call.closeCode).toBeNull();
  }
  expect(hits.get('good')).toBeUndefined();

  // The bystander tenant never noticed: connected throughout, and hearing its room now.
  const heardBefore = listener.frames.length;
  await listener.until(() => (listener.frames.length > heardBefore + 20 ? true : undefined), 'more of the bystander room');
  expect(toneLevel(listener.receivedPcm(heardBefore), 700, 16000)).toBeGreaterThan(4000);
  expect(bystanders.map((b) => b.closeCode)).toEqual([null, null]);
  expect(local.stack.output()).not.toMatch(/media server exited/);
  speaking = false;
  await speech;
  await Promise.all([...calls.flatMap(({ call, peer }) => [call.hangup(), peer.close()]), ...bystanders.map((b) => b.close())]);
}, 60_000);

it('a dispatched agent fails each way as a rule’s does: retried twice, the job failed unreachable, the room and its member unharmed', async () => {
  const port = (agents.address() as { port: number }).port;
  const before = new Map(hits);
  const jobs = await Promise.all(
    MODES.map(async (mode) => {
      const url = mode === 'tls' ? `wss://127.0.0.1:${port}/tls` : `ws://127.0.0.1:${port}/${mode}`;
      const agent = await api('POST', '/v2/agents', { name: `dispatched ${mode}`, url });
      const peer = await RoomPeer.join(local.stack.info.mediaUrl, `dispatch-${mode}`, { token: local.stack.info.token });
      const { status, data } = await api('POST', '/v2/agent/dispatch', { agentId: agent.body.id, roomId: `dispatch-${mode}` });
      expect({ mode, status }).toEqual({ mode, status: 200 });
      return { mode, jobId: data.jobId as string, peer };
    }),
  );
  for (const { mode, jobId, peer } of jobs) {
    const job = await waitFor(async () => {
      const { data } = await api('GET', `/v2/agent/dispatch/${jobId}`);
      return data.status === 'pending' ? undefined : data;
    }, 20_000);
    expect({ mode, status: job.status, reason: job.reason }).toEqual({ mode, status: 'failed', reason: 'unreachable' });
    expect({ mode, attempts: (hits.get(mode) ?? 0) - (before.get(mode) ?? 0) }).toEqual({ mode, attempts: 3 });
    // An agent that accepted and closed at once was in the room that long (as a rule's is): it left again; none stays.
    const ids = (type: string, id: (m: RoomMessage) => unknown) => peer.messages.filter((m) => m.type === type).map(id);
    const joined = ids('participant-joined', (m) => (m.participant as { id: string }).id);
    await peer.until(() => (joined.every((id) => ids('participant-left', (m) => m.participantId).includes(id)) ? true : undefined), `${mode}: every agent that joined to leave`);
    expect({ mode, joined: joined.length > 0 }).toEqual({ mode, joined: mode === 'accept-close' });
    expect({ mode, closeCode: peer.closeCode }).toEqual({ mode, closeCode: null });
  }
  expect(hits.get('good')).toBeUndefined();
  expect(local.stack.output()).not.toMatch(/media server exited/);
  await Promise.all(jobs.map(({ peer }) => peer.close()));
}, 60_000);
