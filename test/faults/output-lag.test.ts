import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer } from 'ws';
import { OutputLag } from '../../ingest-container/src/transport/output-lag';

/**
 * OutputLag over a real WebSocket on port 0: the server sends 20 ms frames (faster than real time: lag is
 * counted in frames) to a client that reads, stops reading, or never answers pings.
 */
let wss: WebSocketServer;
let client: WebSocket | undefined;

beforeEach(async () => {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
});

afterEach(async () => {
  client?.terminate();
  await new Promise((resolve) => wss.close(resolve));
});

async function connect(options: { autoPong?: boolean } = {}): Promise<{ server: WebSocket; client: WebSocket; received: () => number }> {
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, options);
  let received = 0;
  client.on('message', () => received++);
  await new Promise((resolve) => client?.once('open', resolve));
  return { server: await accepted, client, received: () => received };
}

const FRAME = Buffer.alloc(1920);

/** Offers `count` frames, yielding to I/O every 10; returns how many were sent and how many dropped. */
async function offer(server: WebSocket, lag: OutputLag, count: number): Promise<{ sent: number; dropped: number }> {
  let sent = 0;
  for (let i = 0; i < count; i++) {
    if (lag.behind()) continue;
    server.send(FRAME);
    sent++;
    if (i % 10 === 9) await sleep(2);
  }
  return { sent, dropped: count - sent };
}

it('a peer that reads is never behind', async () => {
  const { server } = await connect();
  const lag = new OutputLag(server);
  expect(await offer(server, lag, 500)).toEqual({ sent: 500, dropped: 0 });
});

it('a peer that stops reading is behind once it has a second of audio unread past the last probe, and catches up when it reads', async () => {
  const { server, client: reader, received } = await connect();
  const lag = new OutputLag(server);
  await offer(server, lag, 60);
  await sleep(50);
  const socket = (reader as unknown as { _socket: Socket })._socket;
  socket.pause();
  const before = received();
  const paused = await offer(server, lag, 500);
  // At most two probes' worth (the one answered before the pause, the one that never came back) went out.
  expect(paused.sent).toBeLessThanOrEqual(100);
  expect(paused.dropped).toBeGreaterThanOrEqual(400);
  socket.resume();
  await sleep(100);
  expect(received() - before).toBe(paused.sent);
  expect(await offer(server, lag, 200)).toEqual({ sent: 200, dropped: 0 });
});

it('a peer that never answers pings is never judged behind (left to bufferedAmount)', async () => {
  const { server } = await connect({ autoPong: false });
  const lag = new OutputLag(server);
  expect(await offer(server, lag, 500)).toEqual({ sent: 500, dropped: 0 });
});

it('a peer that answers pings but drops one probe’s pong (it may answer only the latest ping) recovers once the probe is sent again', async () => {
  const { server, client: peer } = await connect({ autoPong: false });
  let swallowed = false;
  peer.on('ping', (data: Buffer) => {
    // Answers every ping but the second probe, as a peer that coalesced it with a heartbeat would.
    if (data.toString() === 'lag:2' && !swallowed) swallowed = true;
    else peer.pong(data);
  });
  const lag = new OutputLag(server);
  await offer(server, lag, 60); // the first probe, answered
  await sleep(50);
  const stuck = await offer(server, lag, 200);
  expect(swallowed).toBe(true);
  expect(stuck.dropped).toBeGreaterThan(0);
  // Within a couple of seconds the probe goes out again, is answered, and frames flow again.
  await sleep(2100);
  lag.behind(); // sends the new probe
  await sleep(50);
  expect(await offer(server, lag, 100)).toEqual({ sent: 100, dropped: 0 });
});
