import { RoomPeer } from '../../tools/room-peer';
import { localProcessPerFile, waitFor } from '../support/local-process';
import { mediaServers } from '../support/media-servers';
import { startReceiver } from '../support/webhook-receiver';

/**
 * Session records through `npm start` with two media servers: a room's members meet on the server holding it, which
 * alone records its session, whichever server each member reached; a participant removed from the session (a phone's
 * call hung up `removed`, a web participant closed 4001); and the session of a server that dies, ended by the sweeper.
 */
const local = localProcessPerFile('e2e-sessions-', { MEDIA_SERVERS: '2', PLACEMENT_LEASE_SECONDS: '3', SWEEP_INTERVAL_SECONDS: '1' });
const { api, server, connectorFor, callOn, callRecord } = mediaServers(() => local.stack);

interface Session {
  id: string;
  status: string;
  end: string | null;
}
interface Participant {
  participantId: string;
  kind: string;
  name: string | null;
  callId: string | null;
  timelog: { start: string; end: string | null }[];
}

const join = (i: number, roomId: string) => RoomPeer.join(server(i).url, roomId, { token: local.stack.info.token, sampleRate: 8000 });
const sessionsOf = async (room: string) => (await api('GET', `/v2/sessions?customRoomId=${room}&perPage=100`)).body.data as Session[];
const participantsOf = async (sessionId: string, which = '') => ((await api('GET', `/v2/sessions/${sessionId}/participants${which}?perPage=100`)).body.data as { participants: Participant[] }).participants;
/** The room's one session once `count` participants are in it. */
const sessionWith = (room: string, count: number, timeoutMs = 5000) =>
  waitFor(async () => {
    const [session, ...more] = await sessionsOf(room);
    if (more.length) throw new Error(`room ${room} has ${more.length + 1} sessions`);
    return session && (await participantsOf(session.id, '/active')).length === count ? session : undefined;
  }, timeoutMs);

it('records one session of a room whose members reached either server, the phone with its call, and ends it when the last leaves', async () => {
  // The room is placed on server 0 (its first member joined there); the others reach server 1 and are relayed to it.
  const here = await join(0, 'relayed-session');
  const relayed = await join(1, 'relayed-session');
  const call = await callOn(await connectorFor('relayed-session'), 1, '14155550131');
  const record = await callRecord(call, 'answered');
  const session = await sessionWith('relayed-session', 3);
  const participants = await participantsOf(session.id);
  expect(participants.map((p) => p.kind).sort()).toEqual(['phone', 'web', 'web']);
  expect(participants.find((p) => p.kind === 'phone')).toEqual({ participantId: `ph_${record.id.slice('call_'.length)}`, name: record.from, kind: 'phone', callId: record.id, timelog: [{ start: expect.any(String), end: null }] });

  await call.hangup();
  await Promise.all([here.close(), relayed.close()]);
  const [ended, ...more] = await waitFor(async () => {
    const sessions = await sessionsOf('relayed-session');
    return sessions[0]?.status === 'ended' ? sessions : undefined;
  });
  expect(more).toEqual([]);
  expect(ended).toMatchObject({ id: session.id, end: expect.any(String) });
  expect((await participantsOf(session.id)).map((p) => p.timelog.map((stay) => stay.end !== null))).toEqual([[true], [true], [true]]);
}, 30_000);

it("delivers a room's session events to its webhook, in order, from the server holding it: a relayed member's too", async () => {
  const receiver = await startReceiver();
  try {
    const room = await api('POST', '/v2/rooms', { customRoomId: 'hooked-session', webhook: { endPoint: receiver.url, events: ['session-started', 'participant-joined', 'participant-left', 'session-ended'] } });
    expect(room.status).toBe(201);
    const here = await join(0, 'hooked-session');
    const relayed = await join(1, 'hooked-session');
    const session = await sessionWith('hooked-session', 2);
    await relayed.close();
    await waitFor(async () => ((await participantsOf(session.id, '/active')).length === 1 ? true : undefined));
    await here.close();
    const received = await waitFor(() => (receiver.received.length >= 6 ? receiver.received : undefined), 10_000);
    const byTime = received.map((r) => r.payload as unknown as { webhookType: string; timestamp: string; data: { id?: string; sessionId?: string; participantId?: string } });
    byTime.sort((a, b) => a.timestamp.localeCompare(b.timestamp) || order(a.webhookType) - order(b.webhookType));
    expect(byTime.map((e) => [e.webhookType, e.data.participantId ?? null])).toEqual([
      ['session-started', null],
      ['participant-joined', idOf(here)],
      ['participant-joined', idOf(relayed)],
      ['participant-left', idOf(relayed)],
      ['participant-left', idOf(here)],
      ['session-ended', null],
    ]);
    expect(byTime[0]?.data.id).toBe(session.id);
    expect(byTime.slice(1, -1).every((e) => e.data.sessionId === session.id)).toBe(true);
    expect(received.every((r) => typeof r.headers['videosdk-signature'] === 'string')).toBe(true);
  } finally {
    await receiver.close();
  }
}, 30_000);

/** A peer's participant id, as its `joined` said. */
const idOf = (peer: RoomPeer) => peer.messages.find((m) => m.type === 'joined')?.participantId;
/** Events of one millisecond in the order they happen. */
const order = (type: string) => ['session-started', 'participant-joined', 'participant-left', 'session-ended'].indexOf(type);

it('removes a phone participant relayed from the other server: its call ends `removed`; and a web one, closed 4001', async () => {
  const peer = await join(0, 'remove-here');
  const web = await join(1, 'remove-here');
  const webId = (await web.next('joined')).participantId as string;
  const call = await callOn(await connectorFor('remove-here'), 1, '14155550132');
  const record = await callRecord(call, 'answered');
  const phoneId = `ph_${record.id.slice('call_'.length)}`;
  const session = await sessionWith('remove-here', 3);

  const removed = await api('POST', '/v2/sessions/participants/remove', { roomId: 'remove-here', participantId: phoneId });
  expect({ status: removed.status, body: removed.body }).toEqual({ status: 200, body: { message: 'Participant removed' } });
  expect(await peer.next('participant-left', (m) => m.participantId === phoneId)).toMatchObject({ reason: 'removed' });
  // The demo connector holds no Plivo credentials: the media server closes the call's stream itself, as it says.
  await waitFor(() => (call.closeCode === null ? undefined : true));
  expect(call.closeCode).toBe(4001);
  expect(await callRecord(call, 'ended')).toMatchObject({ hangupReason: 'removed' });

  expect((await api('POST', '/v2/sessions/participants/remove', { sessionId: session.id, participantId: webId })).status).toBe(200);
  await waitFor(() => (web.closeCode === null ? undefined : true));
  expect(web.closeCode).toBe(4001);
  await waitFor(async () => ((await participantsOf(session.id, '/active')).length === 1 ? true : undefined));
  expect((await participantsOf(session.id)).find((p) => p.participantId === phoneId)?.timelog).toEqual([{ start: expect.any(String), end: expect.any(String) }]);
  await peer.close();
}, 30_000);

it('hangs up a removed phone participant through Plivo when its connector can: the record ends `removed`', async () => {
  const peer = await join(0, 'remove-placed');
  const connector = await api('POST', '/v2/connectors', { provider: 'plivo', plivoAuthId: 'MAREMOVE000000000001', plivoAuthToken: 'remove-participant-test-token-000001', defaultRoomId: 'remove-placed' });
  const placed = await api('POST', '/v2/sip/call', { sipCallTo: '+14155557000', sipCallFrom: '+14155550199', destinationRoomId: 'remove-placed', connectorId: (connector.body.data as { id: string }).id, waitUntilAnswered: true });
  expect(placed.status).toBe(201);
  const callId = (placed.body.data as { id: string }).id;
  const phoneId = `ph_${callId.slice('call_'.length)}`;
  await peer.next('participant-joined', (m) => (m.participant as { id: string }).id === phoneId);
  await sessionWith('remove-placed', 2);

  expect((await api('POST', '/v2/sessions/participants/remove', { roomId: 'remove-placed', participantId: phoneId })).status).toBe(200);
  expect(await peer.next('participant-left', (m) => m.participantId === phoneId)).toMatchObject({ reason: 'removed' });
  const ended = await waitFor(async () => {
    const { data } = await api('GET', `/v2/sip/call/${callId}`);
    return data.status === 'ended' ? data : undefined;
  });
  expect(ended).toMatchObject({ additionalDetails: { hangupReason: 'removed' } });
  // Plivo was asked (its Hang up), and its stream's close and hangup callback recorded no other reason.
  expect(local.stack.output()).toMatch(new RegExp(`"msg":"call hung up through Plivo".*"callId":"${callId}".*"reason":"removed"`));
  await peer.close();
}, 30_000);

it("ends the session of a room whose server was killed, its participants' stays closed, once the sweeper counts the server gone, and tells the room's webhook once", async () => {
  const receiver = await startReceiver();
  try {
    const room = await api('POST', '/v2/rooms', { customRoomId: 'dead-room', webhook: { endPoint: receiver.url, events: ['participant-left', 'session-ended'] } });
    expect(room.status).toBe(201);
    const member = await join(0, 'dead-room');
    const relayed = await join(1, 'dead-room');
    const session = await sessionWith('dead-room', 2);
    process.kill(server(0).pid, 'SIGKILL');
    await waitFor(() => (member.closeCode !== null && relayed.closeCode !== null ? true : undefined));
    const types = () => receiver.received.map((r) => (r.payload as unknown as { webhookType: string }).webhookType);
    // The sweeper publishes the leaves, then the session's end, once their records are written.
    await waitFor(() => (types().includes('session-ended') ? true : undefined), 20_000);
    const [ended, ...more] = await sessionsOf('dead-room');
    expect(more).toEqual([]);
    expect(ended).toMatchObject({ id: session.id, status: 'ended', end: expect.any(String) });
    const participants = await participantsOf(session.id);
    expect(participants.map((p) => p.timelog)).toEqual([[{ start: expect.any(String), end: ended?.end }], [{ start: expect.any(String), end: ended?.end }]]);
    expect(local.stack.output()).toMatch(/"msg":"session ended: its media server is gone"/);

    // Later sweeps publish nothing more: each event came once.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const received = receiver.received.map((r) => r.payload as unknown as { webhookType: string; timestamp: string; data: Record<string, unknown> });
    expect(received.map((e) => e.webhookType).sort()).toEqual(['participant-left', 'participant-left', 'session-ended']);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(3);
    const left = received.filter((e) => e.webhookType === 'participant-left');
    expect(left.map((e) => e.data).sort((x, y) => String(x.participantId).localeCompare(String(y.participantId)))).toEqual(
      participants.map((p) => ({ ...p, sessionId: session.id, roomId: room.body.roomId })).sort((x, y) => x.participantId.localeCompare(y.participantId)),
    );
    expect(left.map((e) => e.data.participantId).sort()).toEqual([idOf(member), idOf(relayed)].sort());
    expect(received.find((e) => e.webhookType === 'session-ended')).toEqual({ webhookType: 'session-ended', data: { ...ended, sessionId: session.id }, timestamp: ended?.end });
    expect(received.every((e) => e.timestamp === ended?.end)).toBe(true);
    expect(receiver.received.every((r) => typeof r.headers['videosdk-signature'] === 'string')).toBe(true);
  } finally {
    await receiver.close();
  }
}, 40_000);
