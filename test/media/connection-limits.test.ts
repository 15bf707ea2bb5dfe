import { tone, toneLevel } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { RoomPeer } from '../../tools/room-peer';
import { flatCalls } from '../support/calls';
import { waitFor } from '../support/local-process';
import { startTestStack, type TestStack } from '../support/stack';

/**
 * The connections one media server holds (MAX_CONNECTIONS) and one tenant's share of them (MAX_CONNECTIONS_PER_TENANT),
 * through the local stack: however many tokens a tenant mints, its sockets cannot take the server's memory from the
 * other tenants on it.
 */
const MAX_CONNECTIONS = 4;
const PER_TENANT = 2;
let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ MEDIA_SERVERS: '1', MAX_CONNECTIONS: String(MAX_CONNECTIONS), MAX_CONNECTIONS_PER_TENANT: String(PER_TENANT) });
}, 60_000);
afterAll(async () => t?.close());

const mediaUrl = (): string => {
  const server = t.stack.mediaServers[0];
  if (!server) throw new Error('no media server');
  return server.url;
};
const join = (roomId: string, token: string) => RoomPeer.join(mediaUrl(), roomId, { token, sampleRate: 8000 });
const CONNECTION_LIMIT = `Connection limit reached: at most ${PER_TENANT} connections per tenant on one media server`;
const SERVER_FULL = `The media server is full: at most ${MAX_CONNECTIONS} connections; connect again to reach another`;

it("refuses a tenant's connections past its share (429; a call closed 4432 as connection-limit) and everyone's past the server's (503), while the tenants within them keep their audio", async () => {
  const [a, b, c] = await Promise.all(['conn-a', 'conn-b', 'conn-c'].map((tenant) => t.token(tenant)));
  const ours = [await join('a-room', a as string), await join('a-room', a as string)];
  await expect(join('a-room', a as string)).rejects.toMatchObject({ status: 429, message: expect.stringContaining(JSON.stringify({ message: CONNECTION_LIMIT, code: 'connection_limit' })) });

  // A call of the tenant at its share: its stream is taken and closed at once, so its record says why.
  const res = await t.api('POST', '/v2/connectors', { token: a as string, body: { provider: 'plivo', defaultRoomId: 'a-room' } });
  const call = new SimulatedCall({ answerUrl: ((await res.json()) as { data: { webhookUrl: string } }).data.webhookUrl });
  await call.connect((await call.answer()).replace(/^ws:\/\/[^/]+/, mediaUrl()));
  await call.closed();
  expect({ code: call.closeCode, reason: call.closeReason }).toEqual({ code: 4432, reason: CONNECTION_LIMIT });
  const ended = await waitFor(async () => {
    const res = await t.api('GET', '/v2/sip/call?perPage=100', { token: a as string });
    return flatCalls((await res.json()) as { data: unknown }).find((c) => c.callUuid === call.callUuid && c.status === 'ended');
  });
  expect(ended).toMatchObject({ hangupReason: 'connection-limit', roomId: 'a-room', answeredAt: null });

  // Another tenant takes the server's last two connections, and hears its room.
  const theirs = [await join('b-room', b as string), await join('b-room', b as string)];
  await expect(join('c-room', c as string)).rejects.toMatchObject({ status: 503, message: expect.stringContaining(JSON.stringify({ message: SERVER_FULL, code: 'server_full' })) });
  const [speaker, listener] = theirs as [RoomPeer, RoomPeer];
  await speaker.play(tone(600, 0.6, 8000, 8000));
  await waitFor(() => (listener.frames.length >= 20 ? true : undefined));
  expect(toneLevel(listener.receivedPcm(), 600)).toBeGreaterThan(4000);
  expect(ours.every((peer) => peer.closeCode === null)).toBe(true);

  // A connection that ends gives its slot back: the next tenant gets in.
  await ours[0]?.close();
  const late = await waitFor(() => join('c-room', c as string).catch(() => undefined));
  expect(t.logLines.some((line) => line.includes('"msg":"participant refused: server-full"'))).toBe(true);
  await Promise.all([late, ...ours.slice(1), ...theirs].map((peer) => peer.close()));
}, 30_000);
