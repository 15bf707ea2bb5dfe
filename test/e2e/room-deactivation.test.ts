import { ROOM_CHECK_TTL_MS } from '../../ingest-container/src/admission/room-gate';
import { RoomPeer } from '../../tools/room-peer';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { localProcessPerFile, waitFor } from '../support/local-process';
import { mediaServers } from '../support/media-servers';

/**
 * `POST /v2/rooms/deactivate` through `npm start` with two media servers: the room's live session ends wherever its
 * members connected (web participants closed 4410, calls ended `room-deactivated`), and later joins and calls are
 * refused. Rooms nobody created get their record on first use, and either of a room's names reaches the one room.
 */
const local = localProcessPerFile('e2e-room-deactivation-', { MEDIA_SERVERS: '2' });
const { api, server, connectorFor, callOn, callRecord } = mediaServers(() => local.stack);

const join = (i: number, roomId: string) => RoomPeer.join(server(i).url, roomId, { token: local.stack.info.token, sampleRate: 8000 });

it('closes every participant and ends every call of the room, on its server and relayed from the other; then refuses joins and calls', async () => {
  // The room is placed on server 0 (its first member joined there); members on server 1 are relayed to it.
  const here = await join(0, 'deactivate-me');
  const relayed = await join(1, 'deactivate-me');
  const answerUrl = await connectorFor('deactivate-me');
  const callHere = await callOn(answerUrl, 0, '14155550121');
  const callRelayed = await callOn(answerUrl, 1, '14155550122');
  await Promise.all([callRecord(callHere, 'answered'), callRecord(callRelayed, 'answered')]);
  await here.next('participant-joined', (m) => (m.participant as { kind: string }).kind === 'phone' && (m.participant as { phone: { from: string } }).phone.from.endsWith('0122'));
  // First use made the record: the room was never created through the API.
  expect((await api('GET', '/v2/rooms/deactivate-me')).body).toMatchObject({ customRoomId: 'deactivate-me', disabled: false });

  const res = await api('POST', '/v2/rooms/deactivate', { roomId: 'deactivate-me' });
  expect({ status: res.status, disabled: res.body.disabled }).toEqual({ status: 200, disabled: true });

  // The room's server polls its commands every second.
  await waitFor(() => (here.closeCode !== null && relayed.closeCode !== null && callHere.closeCode !== null && callRelayed.closeCode !== null ? true : undefined), 5000);
  expect([here.closeCode, relayed.closeCode, callHere.closeCode, callRelayed.closeCode]).toEqual([4410, 4410, 4410, 4410]);
  for (const call of [callHere, callRelayed]) expect(await callRecord(call, 'ended')).toMatchObject({ hangupReason: 'room-deactivated' });
  expect(local.stack.output()).toMatch(/"msg":"closing a deactivated room"/);

  // Later participants are refused on either server, calls are hung up and recorded rejected.
  for (const i of [0, 1]) await expect(join(i, 'deactivate-me')).rejects.toMatchObject({ status: 403, message: expect.stringContaining('"code":"room_deactivated"') });
  const late = new SimulatedCall({ answerUrl, from: '14155550123' });
  await expect(late.answer()).rejects.toThrow(/hangs up \(reason rejected\)/);
  expect(await callRecord(late, 'rejected')).toMatchObject({ hangupReason: 'room-deactivated' });
}, 40_000);

it('ends a call switched into the room from the other server as room-deactivated', async () => {
  const member = await join(0, 'switched-into');
  const call = await callOn(await connectorFor('switch-from'), 1, '14155550124');
  const { id: callId } = await callRecord(call, 'answered');
  expect((await api('POST', '/v2/sip/call/switch-room', { callId, roomId: 'switched-into' })).status).toBe(200);
  await member.next('participant-joined', (m) => (m.participant as { kind: string }).kind === 'phone');
  expect((await api('POST', '/v2/rooms/deactivate', { roomId: 'switched-into' })).status).toBe(200);
  await waitFor(() => (call.closeCode !== null && member.closeCode !== null ? true : undefined), 5000);
  expect([call.closeCode, member.closeCode]).toEqual([4410, 4410]);
  expect(await callRecord(call, 'ended')).toMatchObject({ hangupReason: 'room-deactivated' });

  // Deactivated: no call is switched or placed into it (400, before the media server or Plivo is asked).
  const other = await callOn(await connectorFor('switch-from'), 1, '14155550126');
  const { id: otherId } = await callRecord(other, 'answered');
  const switched = await api('POST', '/v2/sip/call/switch-room', { callId: otherId, roomId: 'switched-into' });
  expect({ status: switched.status, body: switched.body }).toMatchObject({ status: 400, body: { code: 'bad_request', message: expect.stringContaining('switched-into is deactivated') } });
  expect(await callRecord(other, 'answered')).toMatchObject({ roomId: 'switch-from' });
  const placing = await api('POST', '/v2/connectors', { provider: 'plivo', plivoAuthId: 'MADEACTIVATED0000001', plivoAuthToken: 'deactivated-room-test-token-000001', defaultRoomId: 'switch-from' });
  const placed = await api('POST', '/v2/sip/call', { sipCallTo: '+14155557001', sipCallFrom: '+14155550199', destinationRoomId: 'switched-into', connectorId: (placing.body.data as { id: string }).id });
  expect({ status: placed.status, code: placed.body.code }).toEqual({ status: 400, code: 'bad_request' });
  await other.hangup();
}, 30_000);

it("turns away a call routed just before the deactivation whose stream comes after the room was closed", async () => {
  const member = await join(0, 'late-stream');
  const call = new SimulatedCall({ answerUrl: await connectorFor('late-stream'), from: '14155550125' });
  const streamUrl = (await call.answer()).replace(/^ws:\/\/[^/]+/, server(0).url);
  expect((await api('POST', '/v2/rooms/deactivate', { roomId: 'late-stream' })).status).toBe(200);
  await waitFor(() => (member.closeCode === 4410 ? true : undefined), 5000);
  await call.connect(streamUrl);
  await waitFor(() => (call.closeCode !== null ? true : undefined), 5000);
  expect(call.closeCode).toBe(4410);
  expect(await callRecord(call, 'ended')).toMatchObject({ hangupReason: 'room-deactivated' });
}, 30_000);

it('seats a participant joining by roomId in the room kept under its customRoomId', async () => {
  const room = (await api('POST', '/v2/rooms', { customRoomId: 'two-names' })).body as { roomId: string };
  const byCustom = await join(0, 'two-names');
  const byRoomId = await join(1, room.roomId);
  await byCustom.next('participant-joined');
  expect(await byRoomId.next('joined')).toMatchObject({ roomId: 'two-names', participants: [expect.objectContaining({ kind: 'web' })] });
  await Promise.all([byCustom.close(), byRoomId.close()]);
}, 20_000);

it('deactivates a session-end-and-deactivate room (autoCloseConfig) once its last participant leaves: later joins are refused 403', async () => {
  const created = await api('POST', '/v2/rooms', { customRoomId: 'one-session', autoCloseConfig: { type: 'session-end-and-deactivate' } });
  expect(created.status).toBe(201);
  const first = await join(0, 'one-session');
  const second = await join(1, 'one-session');
  await first.next('participant-joined');
  await first.close();
  // One participant is left: the session goes on, and the room with it.
  expect((await api('GET', '/v2/rooms/one-session')).body).toMatchObject({ disabled: false });
  await second.close();
  await waitFor(async () => ((await api('GET', '/v2/rooms/one-session')).body.disabled === true ? true : undefined), 5000);
  expect(local.stack.output()).toMatch(/"msg":"room deactivated as its session ended \(autoCloseConfig\)"/);
  const refused = { status: 403, message: expect.stringContaining('"code":"room_deactivated"') };
  // The room's server refuses at once; the other read the room as `second` joined, and trusts that for ROOM_CHECK_TTL_MS.
  await expect(join(0, 'one-session')).rejects.toMatchObject(refused);
  await new Promise((resolve) => setTimeout(resolve, ROOM_CHECK_TTL_MS));
  await expect(join(1, 'one-session')).rejects.toMatchObject(refused);
}, 30_000);
