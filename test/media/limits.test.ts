import { connect } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { RoomPeer } from '../../tools/room-peer';
import { waitFor } from '../support/local-process';
import { startTestStack, type TestStack } from '../support/stack';
import { flatCalls } from '../support/calls';

/**
 * Limits of the media servers, through the local stack with two of them (each its own process, as ECS tasks):
 * seats per room counted at the room's server (relayed joins included), rooms per tenant per server, the wait for
 * a stream's `start`, and the largest message each socket takes.
 */
const MAX_PARTICIPANTS = 3;
const MAX_ROOMS = 2;
let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({
    MEDIA_SERVERS: '2',
    MAX_PARTICIPANTS_PER_ROOM: String(MAX_PARTICIPANTS),
    MAX_ROOMS_PER_TENANT: String(MAX_ROOMS),
    STREAM_START_TIMEOUT_SECONDS: '1',
  });
}, 60_000);
afterAll(async () => t?.close());

const serverUrl = (i: number): string => {
  const server = t.stack.mediaServers[i];
  if (!server) throw new Error(`no media server ${i}`);
  return server.url;
};
const join = (i: number, roomId: string, token: string) => RoomPeer.join(serverUrl(i), roomId, { token });
const ROOM_FULL = `The room is full: at most ${MAX_PARTICIPANTS} participants per room`;
const ROOM_LIMIT = `Room limit reached: at most ${MAX_ROOMS} rooms per tenant on one media server`;

async function connectorFor(token: string, room: string): Promise<string> {
  const res = await t.api('POST', '/v2/connectors', { token, body: { provider: 'plivo', defaultRoomId: room } });
  expect(res.status).toBe(201);
  return ((await res.json()) as { data: { webhookUrl: string } }).data.webhookUrl;
}

/** An agent at `url` and an inbound rule sending `number` to `room` that dials it; the rule's create status. */
async function agentRule(token: string, number: string, room: string, url: string): Promise<number> {
  const agent = await t.api('POST', '/v2/agents', { token, body: { name: 'agent', url } });
  const { id: agentId } = (await agent.json()) as { id: string };
  const rule = await t.api('POST', '/v2/sip/routing-rule', { token, body: { name: 'agent', type: 'inbound', phoneNumbers: [number], room: { type: 'static', id: room }, agentId } });
  return rule.status;
}

/** A call answered through the Answer URL, its stream opened on media server `i` (with `start`). */
async function callOn(answerUrl: string, i: number, to?: string): Promise<SimulatedCall> {
  const call = new SimulatedCall({ answerUrl, ...(to && { to }) });
  await call.connect((await call.answer()).replace(/^ws:\/\/[^/]+/, serverUrl(i)));
  return call;
}

/** The call's record once it has ended. */
const endedRecord = (token: string, call: SimulatedCall) =>
  waitFor(async () => {
    const res = await t.api('GET', '/v2/sip/call?perPage=100', { token });
    return flatCalls((await res.json()) as { data: unknown }).find((c) => c.callUuid === call.callUuid && c.status === 'ended');
  });

const closeOf = async (call: SimulatedCall) => {
  await call.closed();
  return { code: call.closeCode, reason: call.closeReason };
};

describe('participants per room (MAX_PARTICIPANTS_PER_ROOM)', () => {
  it('gives back the seat and the room of a join whose client went away while it was being checked', async () => {
    const token = await t.token('limits-vanish');
    const { host } = new URL(serverUrl(0));
    const [hostname, port] = host.split(':') as [string, string];
    // Many more than the room's seats: each asks to join, then resets its connection at once.
    for (let i = 0; i < MAX_PARTICIPANTS * 4; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(port), hostname, () => {
          socket.write(`GET /rooms/vanish-room HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${token}\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: ${Buffer.alloc(16, i).toString('base64')}\r\n\r\n`);
          // Gone while the server checks the token and places the room (a few ms), at various points.
          setTimeout(() => {
            socket.resetAndDestroy();
            resolve();
          }, i % 4);
        });
      });
    }
    // Once the server has seen them all go, the room has every seat free again.
    const peers = await waitFor(async () => {
      const joined = await Promise.allSettled(Array.from({ length: MAX_PARTICIPANTS }, () => join(0, 'vanish-room', token)));
      const ok = joined.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      if (ok.length === MAX_PARTICIPANTS) return ok;
      await Promise.all(ok.map((p) => p.close()));
      return undefined;
    }, 10_000);
    expect(peers).toHaveLength(MAX_PARTICIPANTS);
    await Promise.all(peers.map((p) => p.close()));
  });

  it('counts every seat at the room’s server: the next participant is refused 429 there and relayed from the other server; a call is closed with 4430 and ended as room-full; a freed seat is taken again', async () => {
    const token = await t.token('limits-full');
    // Placed on server 0 by its first participant; the second is relayed from server 1.
    const peers = [await join(0, 'full-room', token), await join(1, 'full-room', token), await join(0, 'full-room', token)];
    await expect(join(0, 'full-room', token)).rejects.toMatchObject({ status: 429, message: expect.stringContaining(JSON.stringify({ message: ROOM_FULL, code: 'room_full' })) });
    await expect(join(1, 'full-room', token)).rejects.toMatchObject({ status: 429, message: expect.stringContaining(ROOM_FULL) });

    const answerUrl = await connectorFor(token, 'full-room');
    for (const server of [0, 1]) {
      const call = await callOn(answerUrl, server);
      expect(await closeOf(call)).toEqual({ code: 4430, reason: ROOM_FULL });
      expect(await endedRecord(token, call)).toMatchObject({ hangupReason: 'room-full', roomId: 'full-room', answeredAt: null });
    }
    // The others in the room never saw the refused ones.
    expect(peers[0]?.messages.filter((m) => m.type === 'participant-joined')).toHaveLength(2);

    await peers.pop()?.close();
    const again = await waitFor(() => join(1, 'full-room', token).catch(() => undefined));
    expect(again.messages[0]).toMatchObject({ type: 'joined', participants: [{ kind: 'web' }, { kind: 'web' }] });
    await Promise.all([...peers, again].map((peer) => peer.close()));
  }, 30_000);

  it('gives a call routed to an agent two seats: its caller and the agent', async () => {
    const token = await t.token('limits-agent');
    const agents = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => agents.once('listening', resolve));
    const dialled: WebSocket[] = [];
    agents.on('connection', (ws) => dialled.push(ws));
    try {
      expect(await agentRule(token, '+14155550161', 'agent-room', `ws://127.0.0.1:${(agents.address() as { port: number }).port}/`)).toBe(201);
      const peers = [await join(0, 'agent-room', token), await join(0, 'agent-room', token)];
      // Two seats left would be needed: one is.
      const call = await callOn(await connectorFor(token, 'unused'), 0, '14155550161');
      expect(await closeOf(call)).toEqual({ code: 4430, reason: ROOM_FULL });
      expect(dialled).toHaveLength(0);
      expect(await endedRecord(token, call)).toMatchObject({ hangupReason: 'room-full' });
      // With a web participant gone, the call and its agent take the last two seats.
      await peers.pop()?.close();
      // The seat is given back as the socket closes, before the room tells the others.
      await peers[0]?.next('participant-left');
      const seated = await callOn(await connectorFor(token, 'unused'), 0, '14155550161');
      await waitFor(() => dialled[0]);
      expect(seated.closeCode).toBeNull();
      await seated.hangup();
      await Promise.all(peers.map((peer) => peer.close()));
    } finally {
      agents.clients.forEach((ws) => ws.terminate());
      await new Promise((resolve) => agents.close(resolve));
    }
  }, 30_000);
});

describe('rooms per tenant on one media server (MAX_ROOMS_PER_TENANT)', () => {
  it('refuses a new room of a tenant at its limit there with 429, not its rooms there, another server or another tenant; a call for a new room there is closed with 4431 and ended as room-limit', async () => {
    const token = await t.token('limits-rooms');
    const other = await t.token('limits-rooms-other');
    const peers = [await join(0, 'rooms-1', token), await join(0, 'rooms-2', token)];
    await expect(join(0, 'rooms-3', token)).rejects.toMatchObject({ status: 429, message: expect.stringContaining(ROOM_LIMIT) });
    peers.push(await join(0, 'rooms-1', token), await join(0, 'rooms-3', other), await join(1, 'rooms-3', token));

    const call = await callOn(await connectorFor(token, 'rooms-4'), 0);
    expect(await closeOf(call)).toEqual({ code: 4431, reason: ROOM_LIMIT });
    expect(await endedRecord(token, call)).toMatchObject({ hangupReason: 'room-limit', roomId: 'rooms-4' });

    await peers[1]?.close();
    const freed = await waitFor(() => join(0, 'rooms-5', token).catch(() => undefined));
    await Promise.all([...peers, freed].map((peer) => peer.close()));
  }, 30_000);
});

describe('connection timeouts', () => {
  it('closes a stream that sends no start with 4408 after STREAM_START_TIMEOUT_SECONDS, ending its call as start-timeout', async () => {
    const token = await t.token('limits-start');
    const call = new SimulatedCall({ answerUrl: await connectorFor(token, 'start-room') });
    const ws = new WebSocket((await call.answer()).replace(/^ws:\/\/[^/]+/, serverUrl(0)));
    const opened = Date.now();
    const closed = await new Promise<{ code: number; reason: string }>((resolve, reject) => {
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
      ws.once('error', reject);
    });
    expect(closed).toEqual({ code: 4408, reason: 'no start event within 1 s' });
    expect(Date.now() - opened).toBeGreaterThanOrEqual(900);
    expect(await endedRecord(token, call)).toMatchObject({ hangupReason: 'start-timeout', answeredAt: null });
  }, 30_000);

  it('refuses a room join without a token before the upgrade (rooms authenticate in the upgrade, never after it)', async () => {
    const ws = new WebSocket(`${serverUrl(0)}/rooms/no-token`);
    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      ws.once('open', () => reject(new Error('upgraded without a token')));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
    });
    ws.on('error', () => undefined).terminate();
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toEqual({ message: 'Missing Authorization header: send "Authorization: Bearer <token>"', code: 'unauthorized' });
  });
});

describe('idle connections', () => {
  it('answers a TCP connection that sends no request (or only part of one) 408 and closes it after 10 s: the API gateway and a media server', async () => {
    const idle = (port: number, partial?: string) =>
      new Promise<{ ms: number; reply: string }>((resolve, reject) => {
        const started = Date.now();
        let reply = '';
        const socket = connect(port, '127.0.0.1', () => partial && socket.write(partial));
        socket.on('data', (chunk: Buffer) => (reply += chunk.toString()));
        socket.on('error', reject);
        socket.on('close', () => resolve({ ms: Date.now() - started, reply }));
      });
    const api = Number(new URL(t.stack.apiUrl).port);
    const media = Number(new URL(serverUrl(0)).port);
    const closed = await Promise.all([idle(api), idle(media), idle(media, 'GET /rooms/slow HTTP/1.1\r\nHost: media\r\n')]);
    for (const { ms, reply } of closed) {
      expect(reply).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      // 10 s, checked every second.
      expect(ms).toBeGreaterThanOrEqual(9_900);
      expect(ms).toBeLessThan(12_500);
    }
  }, 30_000);
});

describe('message sizes', () => {
  const waitClose = (peer: RoomPeer) => peer.until(() => peer.closeCode ?? undefined, 'the close');

  it('closes a room participant that sends a message over 64 KB with 1009, relayed or not', async () => {
    const token = await t.token('limits-size');
    for (const server of [0, 1]) {
      const peer = await join(server, 'size-room', token);
      const stays = await join(0, 'size-room', token);
      peer.sendRaw(Buffer.alloc(64 * 1024 + 2));
      expect(await waitClose(peer)).toBe(1009);
      expect(stays.closeCode).toBeNull();
      await stays.close();
    }
    // 64 KB itself is taken (2 s of 16 kHz audio, well under the flood limit).
    const peer = await join(0, 'size-room', token);
    peer.sendRaw(Buffer.alloc(64 * 1024));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(peer.closeCode).toBeNull();
    await peer.close();
  }, 30_000);

  it('closes a Plivo stream that sends a message over 64 KB with 1009, ending its call as error', async () => {
    const token = await t.token('limits-size-plivo');
    const call = await callOn(await connectorFor(token, 'size-call'), 0);
    call.sendRaw(JSON.stringify({ event: 'media', media: { payload: 'A'.repeat(64 * 1024) } }));
    expect((await closeOf(call)).code).toBe(1009);
    expect(await endedRecord(token, call)).toMatchObject({ hangupReason: 'error' });
  }, 30_000);

  it('closes a dialled agent that sends a message over 1 MB with 1009; the call goes on', async () => {
    const token = await t.token('limits-size-agent');
    const agents = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => agents.once('listening', resolve));
    try {
      const connected = new Promise<WebSocket>((resolve) => agents.once('connection', resolve));
      expect(await agentRule(token, '+14155550171', 'size-agent', `ws://127.0.0.1:${(agents.address() as { port: number }).port}/`)).toBe(201);
      const call = await callOn(await connectorFor(token, 'unused'), 0, '14155550171');
      const agent = await connected;
      const closed = new Promise<number>((resolve) => agent.once('close', resolve));
      agent.send(Buffer.alloc(1024 * 1024, 0), { binary: true });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(agent.readyState).toBe(WebSocket.OPEN);
      agent.send(Buffer.alloc(1024 * 1024 + 2, 0), { binary: true });
      expect(await closed).toBe(1009);
      expect(call.closeCode).toBeNull();
      await call.hangup();
    } finally {
      agents.clients.forEach((ws) => ws.terminate());
      await new Promise((resolve) => agents.close(resolve));
    }
  }, 30_000);
});
