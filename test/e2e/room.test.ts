import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tone, toneLevel } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { RoomPeer } from '../../tools/room-peer';
import { agentServerPerFile, closedPort } from '../support/agents';
import { apiRequest, NODE_TSX, ROOT, localProcessPerFile, waitFor } from '../support/local-process';
import { flatCalls, type FlatCall } from '../support/calls';

/**
 * The room protocol end to end, through `npm start`'s real process: browsers and services joining
 * rooms with tokens, hearing and controlling simulated Plivo calls, and agents the bridge dials.
 */
const local = localProcessPerFile('e2e-room-');

const api = (method: string, path: string, body?: unknown, token?: string) => apiRequest(local.stack, method, path, body, token);
const join16k = (roomId: string, token = local.stack.info.token) => RoomPeer.join(local.stack.info.mediaUrl, roomId, { token });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function connectorFor(room: string): Promise<string> {
  const { data } = await api('POST', '/v2/connectors', { provider: 'plivo', defaultRoomId: room });
  return data.webhookUrl as string;
}

/** The phone participant a room peer saw join for `call`. */
async function phoneOf(peer: RoomPeer, call: SimulatedCall): Promise<string> {
  const joined = await peer.next('participant-joined', (m) => (m.participant as { phone?: { callUuid?: string } }).phone?.callUuid === call.callUuid);
  return (joined.participant as { id: string }).id;
}

const callRecord = async (call: SimulatedCall, match: (record: FlatCall) => boolean) =>
  waitFor(async () => {
    const { data } = await api('GET', '/v2/sip/call?perPage=100');
    const found = flatCalls({ data }).find((c) => c.callUuid === call.callUuid);
    return found && match(found) ? found : undefined;
  });

describe('joining a room', () => {
  it('participant tokens admit to their own room only; API tokens with allow_join to any room of the tenant', async () => {
    const minted = await api('POST', '/v2/rooms/tok-room/tokens', { ttlSeconds: 600 });
    expect(minted.status).toBe(201);
    expect(minted.data).toMatchObject({ roomId: 'tok-room', permissions: ['allow_join'] });
    const token = minted.data.token as string;

    const peer = await RoomPeer.join(local.stack.info.mediaUrl, 'tok-room', { token, tokenInQuery: true, sampleRate: 24000 });
    expect(peer.messages[0]).toMatchObject({ type: 'joined', roomId: 'tok-room', sampleRate: 24000, participants: [] });
    expect(String(peer.messages[0]?.participantId)).toMatch(/^web_[0-9a-z]{12}$/);
    await expect(join16k('another-room', token)).rejects.toMatchObject({ status: 403 });
    // A participant token cannot manage anything, or mint more tokens.
    expect((await api('GET', '/v2/connectors', undefined, token)).status).toBe(403);
    expect((await api('POST', '/v2/rooms/tok-room/tokens', {}, token)).status).toBe(403);
    // The demo API token may join any room of its tenant.
    const admin = await join16k('tok-room');
    expect(admin.messages[0]).toMatchObject({ participants: [{ id: peer.messages[0]?.participantId, kind: 'web' }] });
    await Promise.all([peer.close(), admin.close()]);
  }, 30_000);

  it('refuses bad joins with a clear status', async () => {
    await expect(RoomPeer.join(local.stack.info.mediaUrl, 'r1', { token: '' })).rejects.toMatchObject({ status: 401 });
    await expect(join16k('r1', 'not-a-jwt')).rejects.toMatchObject({ status: 401 });
    await expect(RoomPeer.join(local.stack.info.mediaUrl, 'r1', { token: local.stack.info.token, sampleRate: 44100 as 16000 })).rejects.toMatchObject({ status: 400 });
    await expect(join16k('-not-a-room-id')).rejects.toMatchObject({ status: 400 });
    expect((await api('POST', '/v2/rooms/r1/tokens', { ttlSeconds: 5 })).status).toBe(400);
    expect((await api('POST', '/v2/rooms/r%20bad/tokens', {})).status).toBe(400);
  }, 30_000);

  it('answers malformed frames with an error and stays; closes an audio or control flood with 4429', async () => {
    const peer = await join16k('e2e-junk');
    peer.sendFrame(new Int16Array(0));
    peer.sendRaw(Buffer.from([1, 2, 3]));
    peer.sendRaw('not json');
    await peer.until(() => (peer.messages.filter((m) => m.type === 'error').length === 2 ? true : undefined), 'two errors');
    expect(peer.closeCode).toBeNull();
    // Ten times real time at 16 kHz is 320,000 bytes a second.
    for (let i = 0; i < 60; i++) peer.sendFrame(new Int16Array(3200).fill(1000));
    await peer.until(() => peer.closeCode ?? undefined, 'the flood close');
    expect(peer.closeCode).toBe(4429);
    // Control messages are for acting, not streaming: over 50 a second closes too.
    const chatty = await join16k('e2e-junk');
    for (let i = 0; i < 60; i++) chatty.control({ type: 'mute' });
    await chatty.until(() => chatty.closeCode ?? undefined, 'the control flood close');
    expect(chatty.closeCode).toBe(4429);
  }, 30_000);

  it("keeps tenants apart: another tenant's room of the same id is a different room", async () => {
    const { stdout } = await promisify(execFile)(NODE_TSX[0], [...NODE_TSX.slice(1), 'tools/token.ts', '--apikey', 'other-tenant', '--permissions', 'allow_join'], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: local.dataDir },
    });
    const other = await join16k('shared-id', stdout.trim());
    const demo = await join16k('shared-id');
    expect(demo.messages[0]).toMatchObject({ participants: [] });
    await sleep(300);
    expect(other.messages.map((m) => m.type)).toEqual(['joined']);
    await Promise.all([other.close(), demo.close()]);
  }, 30_000);
});

describe('a call in a room with a 16 kHz participant', () => {
  it('they hear each other; the room sees the phone join with its numbers, and its DTMF', async () => {
    const answerUrl = await connectorFor('e2e-web');
    const peer = await join16k('e2e-web');
    const call = new SimulatedCall({ answerUrl, from: '14155550111', to: '14155550122' });
    await call.start();
    const joined = await peer.next('participant-joined');
    expect(joined.participant).toEqual({ id: expect.stringMatching(/^ph_/), kind: 'phone', phone: { from: '14155550111', to: '14155550122', callUuid: call.callUuid, callId: expect.stringMatching(/^call_/) } });
    await Promise.all([call.play(tone(700, 1.5)), peer.play(tone(1800, 1.5, 8000, 16000))]);
    await sleep(200);
    const callerHeard = call.receivedPcm().subarray(10 * 160);
    const peerHeard = peer.receivedPcm(10);
    expect(toneLevel(callerHeard, 1800)).toBeGreaterThan(4000);
    expect(toneLevel(callerHeard, 700)).toBeLessThan(100);
    expect(toneLevel(peerHeard, 700, 16000)).toBeGreaterThan(4000);
    expect(toneLevel(peerHeard, 1800, 16000)).toBeLessThan(100);
    call.sendDtmf('7');
    expect(await peer.next('dtmf')).toEqual({ type: 'dtmf', participantId: (joined.participant as { id: string }).id, digit: '7' });
    await call.hangup();
    expect(await peer.next('participant-left')).toMatchObject({ participantId: (joined.participant as { id: string }).id, reason: 'caller-hangup' });
    await peer.close();
  }, 30_000);

  it('room controls reach Plivo: clear, send-dtmf, checkpoint (and its playedStream back), mute, hangup', async () => {
    const answerUrl = await connectorFor('e2e-controls');
    const peer = await join16k('e2e-controls');
    const call = new SimulatedCall({ answerUrl });
    await call.start();
    const phoneId = await phoneOf(peer, call);
    const plivoGot = (event: string) => waitFor(() => call.controls.find((c) => c.event === event));

    peer.control({ type: 'clear' });
    expect(await plivoGot('clearAudio')).toEqual({ event: 'clearAudio', streamId: call.streamId });
    peer.control({ type: 'send-dtmf', digits: '12#' });
    expect(await plivoGot('sendDTMF')).toEqual({ event: 'sendDTMF', dtmf: '12#' });
    peer.control({ type: 'checkpoint', name: 'greeting-done' });
    expect(await plivoGot('checkpoint')).toEqual({ event: 'checkpoint', streamId: call.streamId, name: 'greeting-done' });
    call.send({ event: 'playedStream', streamId: call.streamId, name: 'greeting-done' });
    expect(await peer.next('checkpoint-played')).toEqual({ type: 'checkpoint-played', participantId: phoneId, name: 'greeting-done' });

    // Bad controls get an error reply; the participant stays.
    peer.control({ type: 'dance' });
    peer.control({ type: 'hangup', participantId: 'ph_nobody' });
    peer.control({ type: 'send-dtmf', digits: 'xyz' });
    await peer.until(() => (peer.messages.filter((m) => m.type === 'error').length === 3 ? true : undefined), 'three errors');
    expect(peer.messages.filter((m) => m.type === 'error').map((m) => m.message)).toEqual([
      'type must be one of clear, send-dtmf, checkpoint, hangup, mute, unmute',
      'no phone participant ph_nobody in this room',
      expect.stringContaining('digits'),
    ]);

    // Muted, the participant is not heard; unmuted, it is.
    peer.control({ type: 'mute' });
    await peer.play(tone(1500, 0.6, 8000, 16000));
    peer.control({ type: 'unmute' });
    const unmutedFrom = call.received.length;
    await peer.play(tone(900, 0.6, 8000, 16000));
    await sleep(150);
    const pcm = call.receivedPcm();
    expect(toneLevel(pcm.subarray(0, unmutedFrom * 160), 1500)).toBeLessThan(100);
    expect(toneLevel(pcm.subarray((unmutedFrom + 5) * 160), 900)).toBeGreaterThan(4000);

    peer.control({ type: 'hangup', participantId: phoneId });
    await call.closed();
    expect(call.closeCode).toBe(4000);
    expect(await peer.next('participant-left')).toMatchObject({ participantId: phoneId, reason: 'kicked' });
    expect(await callRecord(call, (c) => c.status === 'ended')).toMatchObject({ hangupReason: 'kicked' });
    await peer.close();
  }, 30_000);
});

describe('agents', () => {
  const { dialled, port: agentPort } = agentServerPerFile();

  /** An agent at `url`, and an inbound rule for `to` that dials it (and whatever else `rule` sets). */
  async function agentRule(to: string, url: string, rule: Record<string, unknown> = {}): Promise<void> {
    const agent = await api('POST', '/v2/agents', { name: `agent for ${to}`, url, sampleRate: 16000, metadata: { persona: 'support', tier: 2 } });
    expect(agent.status).toBe(201);
    const { status } = await api('POST', '/v2/sip/routing-rule', {
      name: `agent for ${to}`,
      type: 'inbound',
      phoneNumbers: [`+${to}`],
      room: { type: 'dynamic' },
      agentId: agent.body.id,
      ...rule,
    });
    expect(status).toBe(201);
  }

  it("dials the routing rule's agent: its first message names the call, audio flows both ways, the record says connected", async () => {
    const port = agentPort();
    await agentRule('14155550133', `ws://127.0.0.1:${port}/agent?key=secret`, { agentMetadata: { tier: 3, queue: 'billing' } });
    const call = new SimulatedCall({ answerUrl: await connectorFor('unused'), from: '14155550144', to: '14155550133' });
    await call.start();
    const agent = await waitFor(() => dialled[0]);
    const welcome = await agent.next('joined');
    expect(welcome).toMatchObject({
      sampleRate: 16000,
      roomId: expect.stringMatching(/^[0-9a-f]{12}$/),
      call: { from: '14155550144', to: '14155550133', callUuid: call.callUuid, callId: expect.stringMatching(/^call_/) },
      // The rule's agentMetadata over the agent's own.
      metadata: { persona: 'support', tier: 3, queue: 'billing' },
      participants: [{ kind: 'phone' }],
    });
    expect(welcome.call).not.toHaveProperty('attributes');
    expect(String(welcome.participantId)).toMatch(/^ag_/);
    await Promise.all([call.play(tone(500, 1.2)), agent.play(tone(1100, 1.2, 8000, 16000))]);
    await sleep(200);
    expect(toneLevel(agent.receivedPcm(10), 500, 16000)).toBeGreaterThan(4000);
    expect(toneLevel(call.receivedPcm().subarray(10 * 160), 1100)).toBeGreaterThan(4000);
    expect(await callRecord(call, (c) => c.agentStatus === 'connected')).toMatchObject({ status: 'answered' });
    await call.hangup();
    await agent.until(() => agent.closeCode ?? undefined, 'the agent socket to close');
    expect(agent.closeCode).toBe(1000);
  }, 30_000);

  it('hidePhoneNumber masks the caller in the agent’s joined and in room events; header attributes and dtmf: false reach the room as the rule says', async () => {
    const port = agentPort();
    await agentRule('14155550166', `ws://127.0.0.1:${port}/masked`, {
      room: { type: 'static', id: 'e2e-masked' },
      hidePhoneNumber: true,
      dtmf: false,
      headersToAttributes: { 'X-PH-Account': 'account' },
    });
    const peer = await join16k('e2e-masked');
    const before = dialled.length;
    const call = new SimulatedCall({ answerUrl: await connectorFor('unused'), from: '+14155550177', to: '14155550166', sipHeaders: { Account: 'A17', Other: 'x' } });
    await call.start();
    const phone = { from: '+*******0177', to: '14155550166', callUuid: call.callUuid, callId: expect.stringMatching(/^call_/), attributes: { account: 'A17' } };
    expect((await peer.next('participant-joined')).participant).toEqual({ id: expect.stringMatching(/^ph_/), kind: 'phone', phone });
    const agent = await waitFor(() => dialled[before]);
    const welcome = await agent.next('joined');
    expect(welcome).toMatchObject({ call: phone, participants: expect.arrayContaining([{ id: expect.stringMatching(/^ph_/), kind: 'phone', phone }]) });
    expect(JSON.stringify([...peer.messages, ...agent.messages])).not.toContain('4155550177');
    // The caller's keys stay out of the room: the hangup's participant-left comes, no dtmf before it.
    call.sendDtmf('7');
    await sleep(200);
    await call.hangup();
    await peer.next('participant-left', (m) => m.reason === 'caller-hangup');
    expect(peer.messages.filter((m) => m.type === 'dtmf')).toEqual([]);
    expect(agent.messages.filter((m) => m.type === 'dtmf')).toEqual([]);
    await peer.close();
  }, 30_000);

  it('a call whose agent is down still joins its room; the record says unreachable', async () => {
    await agentRule('14155550155', `ws://127.0.0.1:${await closedPort()}/gone`, { room: { type: 'static', id: 'e2e-agent-down' } });
    const peer = await join16k('e2e-agent-down');
    const call = new SimulatedCall({ answerUrl: await connectorFor('unused'), to: '14155550155' });
    await call.start();
    await call.play(tone(650, 0.8));
    await sleep(150);
    expect(toneLevel(peer.receivedPcm(5), 650, 16000)).toBeGreaterThan(4000);
    const record = await callRecord(call, (c) => c.agentStatus !== 'pending');
    expect(record).toMatchObject({ agentStatus: 'unreachable', status: 'answered' });
    await call.hangup();
    await peer.close();
  }, 30_000);
});
