import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { dynamoClient, kmsClient } from '../../core/aws';
import { PlacementStore } from '../../core/placement';
import { SecretBox } from '../../core/secret-box';
import { RELAY_HEADERS, RelayAuth } from '../../ingest-container/src/cluster/relay-auth';
import { LOCAL_KMS_KEY_ID, LOCAL_TABLE_NAME } from '../../local/aws';
import { tone, toneLevel } from '../../tools/audio';
import { RoomPeer } from '../../tools/room-peer';
import { startLocalProcess, waitFor, type LocalProcess } from '../support/local-process';
import { expectPairHearsEachOther, mediaServers } from '../support/media-servers';
import { startReceiver } from '../support/webhook-receiver';

/**
 * Rooms across media servers, through `npm start` with two media server processes sharing the local
 * DynamoDB (as a region's tasks share its table): a room lives on one server, connections that land on
 * the other are relayed to it, and when the room's server dies its calls are closed and the room moves.
 */
let dataDir: string;
let stack: LocalProcess;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'e2e-scale-out-'));
  stack = await startLocalProcess(dataDir, { MEDIA_SERVERS: '2', PLACEMENT_LEASE_SECONDS: '3', SWEEP_INTERVAL_SECONDS: '1' });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const { api, server, connectorFor, callOn, callRecord } = mediaServers(() => stack);

it('places two calls of one room on different servers and they hear each other, bit for bit, through one relay', async () => {
  expect(stack.info.mediaServers).toHaveLength(2);
  const answerUrl = await connectorFor('span-room');
  const a = await callOn(answerUrl, 0, '14155550101');
  // B lands on the other server: it is relayed to the room's server (A's).
  const b = await callOn(answerUrl, 1, '14155550102');
  // An 8 kHz browser participant, relayed the same way, keeps the room's mix at 8 kHz (so mu-law stays exact).
  const listener = await RoomPeer.join(server(1).url, 'span-room', { token: stack.info.token, sampleRate: 8000 });
  // The relay forwards messages as they are: B hears exactly the frames A sent, none lost.
  await expectPairHearsEachOther(a, b);
  // The browser participant hears both callers.
  expect(toneLevel(listener.receivedPcm(10), 600)).toBeGreaterThan(2000);
  expect(toneLevel(listener.receivedPcm(10), 1400)).toBeGreaterThan(2000);
  const log = stack.output();
  expect(log).toContain(`"msg":"room placed here"`);
  expect(log.match(/"msg":"connection relayed to the room's media server"[^\n]*"type":"plivo"/g)).toHaveLength(1);
  expect(log.match(/"msg":"plivo stream accepted \(relayed\)"/g)).toHaveLength(1);
  await listener.close();
  await Promise.all([a.hangup(), b.hangup()]);
  await Promise.all([callRecord(a, 'ended'), callRecord(b, 'ended')]);
}, 30_000);

it("the relay port seats only joins signed with the owner's sealed secret, fresh and once, for a room placed there", async () => {
  const { dynamodbEndpoint, kmsEndpoint } = stack.info.aws;
  const dynamo = dynamoClient({ region: 'us-east-1', dynamodbEndpoint });
  const kms = kmsClient({ region: 'us-east-1', kmsEndpoint });
  try {
    const records = await new PlacementStore(dynamo, LOCAL_TABLE_NAME).servers();
    const owner = records.find((r) => r.serverId === server(0).serverId && r.state === 'serving');
    if (!owner) throw new Error('no server record for media server 0');
    const placement = { ...owner, tenant: 'demo', roomId: 'relay-room' };
    // The region table holds the secret sealed: only a reader that may decrypt with the key (a media task) can relay.
    const box = new SecretBox(kms, LOCAL_KMS_KEY_ID);
    const secret = await box.open(Buffer.from(owner.sealedRelaySecret, 'base64'), { purpose: 'media-relay', serverId: owner.serverId });
    const { Items = [] } = await dynamo.send(new ScanCommand({ TableName: LOCAL_TABLE_NAME }));
    expect(JSON.stringify(Items)).not.toContain(secret);
    await expect(box.open(Buffer.from(owner.sealedRelaySecret, 'base64'), { purpose: 'media-relay', serverId: server(1).serverId })).rejects.toThrow();

    const upgrade = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(owner.relayUrl, { headers });
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.once('open', () => {
          ws.close();
          resolve(101);
        });
        ws.once('error', () => resolve(-1));
      });
    const peer = await RelayAuth.create(box, 'test-peer');
    const join = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const participant = { type: 'participant', tenant: 'demo', roomId: 'relay-room', kind: 'web', rate: 16000, wantsLevels: false };
    const signed = (value: string, at?: number) => peer.headersFor(placement, value, at);
    expect(await upgrade({ [RELAY_HEADERS.join]: join(participant) })).toBe(403);
    // The old bare shared secret: gone.
    expect(await upgrade({ 'x-relay-secret': secret, [RELAY_HEADERS.join]: join(participant) })).toBe(403);
    // A signature covers the join: another join under it is refused.
    expect(await upgrade({ ...(await signed(join(participant))), [RELAY_HEADERS.join]: join({ ...participant, tenant: 'victim' }) })).toBe(403);
    expect(await upgrade(await signed(join(participant), Date.now() - 60_000))).toBe(403);
    expect(await upgrade(await signed(join({ ...participant, roomId: '../x' })))).toBe(400);
    expect(await upgrade(await signed('not base64 json'))).toBe(400);
    // The room is placed on the other server: this one does not seat its participants.
    const elsewhere = await RoomPeer.join(server(1).url, 'relay-room', { token: stack.info.token });
    const once = await signed(join(participant));
    expect(await upgrade(once)).toBe(409);
    // A captured join, sent again: refused whatever it would have got.
    expect(await upgrade(once)).toBe(403);
    await elsewhere.close();
  } finally {
    dynamo.destroy();
    kms.destroy();
  }
}, 30_000);

it("closes the calls of a killed room server with media-failure (records and webhooks), and the next joiner re-places the room", async () => {
  const receiver = await startReceiver();
  const hook = await api('POST', '/v2/sip/webhooks', { url: receiver.url, events: ['call-hangup'] });
  expect(hook.status).toBe(201);
  try {
    const answerUrl = await connectorFor('kill-room');
    const direct = await callOn(answerUrl, 0, '14155550111');
    await callRecord(direct, 'answered');
    const relayed = await callOn(answerUrl, 1, '14155550112');
    await callRecord(relayed, 'answered');

    process.kill(server(0).pid, 'SIGKILL');
    // The relayed call's server notices at once: Plivo's socket is closed, the record ended.
    await waitFor(() => (relayed.closeCode === null ? undefined : true));
    expect(relayed.closeCode).toBe(1011);
    expect(await callRecord(relayed, 'ended')).toMatchObject({ hangupReason: 'media-failure' });
    // The direct call's server is gone with its socket; the sweeper closes its record once the lease lapses.
    await waitFor(() => (direct.closeCode === null ? undefined : true));
    expect(await callRecord(direct, 'ended', 15_000)).toMatchObject({ hangupReason: 'media-failure' });
    const hangups = await waitFor(() => {
      const ours = receiver.received.filter((r) => [direct.callUuid, relayed.callUuid].includes(r.payload.data.additionalDetails.callUuid as typeof direct.callUuid));
      return ours.length === 2 ? ours : undefined;
    }, 15_000);
    expect(hangups.map((r) => r.payload.data.additionalDetails.hangupReason)).toEqual(['media-failure', 'media-failure']);

    // The next joiner lands on the surviving server, which takes the room over once the dead one's lease lapses.
    const next = await callOn(answerUrl, 1, '14155550113');
    const peer = await RoomPeer.join(server(1).url, 'kill-room', { token: stack.info.token });
    await next.play(tone(900, 1));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(toneLevel(peer.receivedPcm(10), 900, 16000)).toBeGreaterThan(2000);
    expect(await callRecord(next, 'answered')).toBeDefined();
    await peer.close();
    await next.hangup();
  } finally {
    await api('DELETE', `/v2/sip/webhooks/${hook.body.id as string}`);
    await receiver.close();
  }
}, 60_000);
