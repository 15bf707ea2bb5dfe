import { randomBytes, randomUUID } from 'node:crypto';
import { mulawDecode } from '../../core/mulaw';
import type { CallView } from '../../core/calls/model';
import { createLogger } from '../../core/log';
import { CALLEE_TONE_HZ, PlivoEmulator } from '../../local/plivo/emulator';
import { tone, toneLevel } from '../../tools/audio';
import { plivoCallback } from '../../tools/plivo-simulator';
import { RoomPeer } from '../../tools/room-peer';
import { apiRequest, localProcessPerFile, tenantToken, waitFor } from '../support/local-process';
import { startReceiver } from '../support/webhook-receiver';

/**
 * Outbound calls and ending calls through `npm start`'s real process, against a Plivo Voice API emulator in this
 * process (PLIVO_API_URL points the stack at it, as a user points it at real Plivo): Make Call, the V3-signed
 * callbacks to the Answer URL, the stream into the room, and the DELETE of an ended call.
 */
const emulator = { current: undefined as unknown as PlivoEmulator };
/** The accounts the emulator knows: auth id -> auth token. */
const accounts = new Map<string, string>();
// Each test makes a webhook of its own: the media servers read the tenant's webhooks for every event, not from a cache.
const env: Record<string, string> = { CLAIM_TTL_SECONDS: '5', SWEEP_INTERVAL_SECONDS: '1', WEBHOOK_CACHE_SECONDS: '0' };
beforeAll(async () => {
  emulator.current = await PlivoEmulator.start({ log: createLogger('warn', { service: 'plivo-emulator' }), authTokenOf: (authId) => accounts.get(authId) });
  env.PLIVO_API_URL = emulator.current.url;
});
const local = localProcessPerFile('e2e-outbound-', env);
afterAll(() => emulator.current.close());

const api = (method: string, path: string, body?: unknown, token?: string) => apiRequest(local.stack, method, path, body, token);
const FROM = '+14155550199';
/** The emulator's callees by their last four digits (docs/plivo-emulator.md). */
const ANSWERS = '+14155557000';
const BUSY = '+14155550001';
const NO_ANSWER = '+14155550002';
const RINGS_ON = '+14155550004';

/** A connector holding a Plivo account the emulator knows, with a webhook of its own receiving every event. */
async function placingConnector() {
  const authId = `MA${randomBytes(9).toString('hex').toUpperCase()}`;
  const authToken = randomBytes(20).toString('hex');
  accounts.set(authId, authToken);
  const connector = await api('POST', '/v2/connectors', { provider: 'plivo', plivoAuthId: authId, plivoAuthToken: authToken });
  expect(connector.status).toBe(201);
  const receiver = await startReceiver();
  const hook = await api('POST', '/v2/sip/webhooks', { url: receiver.url });
  expect(hook.status).toBe(201);
  return { authId, connectorId: connector.data.id as string, receiver, webhookId: hook.body.id as string };
}

afterEach(async () => {
  const { data } = await api('GET', '/v2/sip/webhooks');
  for (const hook of data as unknown as { id: string }[]) await api('DELETE', `/v2/sip/webhooks/${hook.id}`);
  // Connectors go too: a tenant with one connector holding credentials needs no connectorId.
  for (const connector of (await api('GET', '/v2/connectors')).data as unknown as { id: string }[]) await api('DELETE', `/v2/connectors/${connector.id}`);
});

const place = async (body: Record<string, unknown>) => {
  const res = await api('POST', '/v2/sip/call', { sipCallFrom: FROM, ...body });
  return { status: res.status, call: res.data as unknown as CallView, body: res.body };
};

/** The events the receiver got for `callId`, in the order they happened (deliveries may overtake each other), with the status each showed. */
const eventsOf = (receiver: Awaited<ReturnType<typeof startReceiver>>, callId: string) =>
  receiver.received
    .filter((r) => r.payload.data.id === callId)
    .sort((a, b) => a.payload.timestamp.localeCompare(b.payload.timestamp))
    .map((r) => `${r.payload.webhookType}:${r.payload.data.status}`);

it('places a call from a room: heard both ways, its statuses and events in order, ended by the API with one DELETE and one call-hangup', async () => {
  const { receiver, authId } = await placingConnector();
  const peer = await RoomPeer.join(local.stack.info.mediaUrl, 'outbound-sales', { token: local.stack.info.token });
  const placed = await place({ sipCallTo: ANSWERS, destinationRoomId: 'outbound-sales', metadata: { ticket: 'T-42' }, waitUntilAnswered: true });
  expect(placed.status).toBe(201);
  expect(placed.call).toMatchObject({ type: 'outbound', status: 'answered', from: FROM, to: ANSWERS, roomId: 'outbound-sales', metadata: { ticket: 'T-42' } });
  const callUuid = placed.call.additionalDetails.callUuid as string;
  const emulated = emulator.current.call(callUuid);
  expect(emulated).toMatchObject({ authId, from: FROM, to: ANSWERS, state: 'answered' });

  // The room hears the callee's 440 Hz; the callee hears the room's 700 Hz.
  await peer.until(() => (toneLevel(peer.receivedPcm(), CALLEE_TONE_HZ, 16000) > 4000 ? true : undefined), 'the callee heard in the room', 10_000);
  await peer.play(tone(700, 1, 16000, 16000));
  const heard = () => mulawDecode(Buffer.concat((emulated?.streams[0]?.received ?? []).map((frame) => frame.mulaw)));
  await waitFor(() => (toneLevel(heard(), 700) > 4000 ? true : undefined), 5000);

  const ended = await api('POST', '/v2/sip/call/end', { callId: placed.call.id });
  expect(ended.status).toBe(200);
  expect(ended.data).toMatchObject({ id: placed.call.id, status: 'ended', additionalDetails: { hangupReason: 'api' } });
  expect(emulator.current.requests.filter((r) => r.method === 'DELETE').map((r) => r.path)).toEqual([`/v1/Account/${authId}/Call/${callUuid}/`]);
  await peer.next('participant-left');
  // Asked again: the same answer, nothing sent to Plivo again.
  expect((await api('POST', '/v2/sip/call/end', { callId: placed.call.id })).data).toMatchObject({ status: 'ended' });
  expect(emulator.current.requests.filter((r) => r.method === 'DELETE')).toHaveLength(1);

  await waitFor(() => (eventsOf(receiver, placed.call.id).length >= 4 ? true : undefined), 10_000);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // Plivo's hangup callback and the stream's close come too: no second call-hangup.
  expect(eventsOf(receiver, placed.call.id)).toEqual(['call-started:initiated', 'call-ringing:ringing', 'call-answered:answered', 'call-hangup:ended']);
  const record = (await api('GET', `/v2/sip/call/${placed.call.id}`)).data as unknown as CallView;
  expect(record.timelog.flatMap((entry) => ('status' in entry ? [entry.status] : []))).toEqual(['initiated', 'ringing', 'answered', 'ended']);
  expect(record.timelog.flatMap((entry) => ('event' in entry ? [entry.event] : []))).toEqual(['stream-started', 'stream-stopped']);
  await peer.close();
  await receiver.close();
}, 30_000);

it("sends an outbound rule's headers as the <Stream>'s extraHeaders: the callee's participant attributes in the room show them", async () => {
  const { receiver } = await placingConnector();
  const rule = await api('POST', '/v2/sip/routing-rule', { name: 'headers', type: 'outbound', room: { type: 'static', id: 'outbound-headers' }, headers: { Account: 'A17', 'X-Campaign': 'spring' } });
  expect(rule.status).toBe(201);
  const peer = await RoomPeer.join(local.stack.info.mediaUrl, 'outbound-headers', { token: local.stack.info.token });
  const placed = await place({ sipCallTo: ANSWERS, routingRuleId: rule.body.id, waitUntilAnswered: true });
  expect(placed.call).toMatchObject({ status: 'answered', roomId: 'outbound-headers', ruleId: rule.body.id });
  const joined = await peer.next('participant-joined', (m) => (m.participant as { kind: string }).kind === 'phone', 10_000);
  expect(joined.participant).toMatchObject({ phone: { callId: placed.call.id, attributes: { 'sip.h.account': 'A17', 'sip.h.x-campaign': 'spring' } } });
  // A call placed without the rule streams with the seed's XML: no extra headers, no attributes.
  const plain = await place({ sipCallTo: ANSWERS, destinationRoomId: 'outbound-headers', waitUntilAnswered: true });
  const second = await peer.next('participant-joined', (m) => (m.participant as { phone?: { callId: string } }).phone?.callId === plain.call.id, 10_000);
  expect((second.participant as { phone: object }).phone).not.toHaveProperty('attributes');
  for (const call of [placed.call, plain.call]) expect((await api('POST', '/v2/sip/call/end', { callId: call.id })).status).toBe(200);
  await peer.close();
  await receiver.close();
}, 30_000);

it('carries `recordAudio` and an outbound rule\'s `recording` to the media server: the callee joins with `phone.record: true`, a call with neither without it', async () => {
  const { receiver } = await placingConnector();
  const rule = await api('POST', '/v2/sip/routing-rule', { name: 'recorded', type: 'outbound', room: { type: 'static', id: 'outbound-recorded' }, recording: true });
  expect(rule.status).toBe(201);
  const peer = await RoomPeer.join(local.stack.info.mediaUrl, 'outbound-recorded', { token: local.stack.info.token });
  const phoneOf = async (callId: string) => {
    const joined = await peer.next('participant-joined', (m) => (m.participant as { phone?: { callId: string } }).phone?.callId === callId, 10_000);
    return (joined.participant as { phone: object }).phone;
  };
  const asked = await place({ sipCallTo: ANSWERS, destinationRoomId: 'outbound-recorded', recordAudio: true, waitUntilAnswered: true });
  expect(asked.status).toBe(201);
  expect(await phoneOf(asked.call.id)).toMatchObject({ record: true });
  const byRule = await place({ sipCallTo: ANSWERS, routingRuleId: rule.body.id, waitUntilAnswered: true });
  expect(await phoneOf(byRule.call.id)).toMatchObject({ record: true });
  const plain = await place({ sipCallTo: ANSWERS, destinationRoomId: 'outbound-recorded', recordAudio: false, waitUntilAnswered: true });
  expect(await phoneOf(plain.call.id)).not.toHaveProperty('record');
  for (const call of [asked.call, byRule.call, plain.call]) expect((await api('POST', '/v2/sip/call/end', { callId: call.id })).status).toBe(200);
  await peer.close();
  await receiver.close();
}, 30_000);

it("hangs a call up from the room as the API does: Plivo's Hang up once, the record ended `kicked`, one call-hangup", async () => {
  const { receiver, authId } = await placingConnector();
  const peer = await RoomPeer.join(local.stack.info.mediaUrl, 'outbound-room-hangup', { token: local.stack.info.token });
  try {
    const placed = await place({ sipCallTo: ANSWERS, destinationRoomId: 'outbound-room-hangup', waitUntilAnswered: true });
    expect(placed.call.status).toBe('answered');
    const callUuid = placed.call.additionalDetails.callUuid as string;
    const phoneId = `ph_${placed.call.id.slice('call_'.length)}`;
    await peer.next('participant-joined', (m) => (m.participant as { id: string }).id === phoneId);

    peer.control({ type: 'hangup', participantId: phoneId });
    expect(await peer.next('participant-left', (m) => m.participantId === phoneId)).toMatchObject({ reason: 'kicked' });
    expect(emulator.current.requests.filter((r) => r.method === 'DELETE' && r.path.includes(callUuid)).map((r) => r.path)).toEqual([`/v1/Account/${authId}/Call/${callUuid}/`]);
    // Plivo ended it as asked: Plivo closed its stream (1000, not our 4000) and posted its hangup callback.
    expect(emulator.current.call(callUuid)).toMatchObject({ state: 'ended', ending: { source: 'API Request' } });
    const closeCode = () => {
      const stream = emulator.current.call(callUuid)?.streams[0];
      return stream && 'closeCode' in stream && stream.closeCode !== null ? stream.closeCode : undefined;
    };
    expect(await waitFor(closeCode, 5000)).toBe(1000);
    await waitFor(() => (eventsOf(receiver, placed.call.id).length >= 4 ? true : undefined), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the stream's close and Plivo's hangup callback come too: no second call-hangup.
    expect(eventsOf(receiver, placed.call.id)).toEqual(['call-started:initiated', 'call-ringing:ringing', 'call-answered:answered', 'call-hangup:ended']);
    const record = (await api('GET', `/v2/sip/call/${placed.call.id}`)).data as unknown as CallView;
    expect(record).toMatchObject({ status: 'ended', additionalDetails: { hangupReason: 'kicked' } });
    // Ended: the API's end has nothing left to do.
    expect((await api('POST', '/v2/sip/call/end', { callId: placed.call.id })).status).toBe(409);
  } finally {
    await peer.close();
    await receiver.close();
  }
}, 30_000);

it.each([
  ['busy', BUSY, {}, 'failed', 'call-hangup'],
  ['unanswered (the network gives up)', NO_ANSWER, {}, 'not-answered', 'call-missed'],
  ['unanswered (the ringing timeout)', RINGS_ON, { ringingTimeout: 5 }, 'not-answered', 'call-missed'],
])('a %s callee ends the call as Plivo reports it, never in the room', async (_what, to, options, status, event) => {
  const { receiver } = await placingConnector();
  const placed = await place({ sipCallTo: to, destinationRoomId: 'outbound-unanswered', waitUntilAnswered: true, ...options });
  expect(placed.status).toBe(201);
  expect(placed.call.status).toBe(status);
  await waitFor(() => (eventsOf(receiver, placed.call.id).length >= 3 ? true : undefined), 5000);
  expect(eventsOf(receiver, placed.call.id)).toEqual(['call-started:initiated', 'call-ringing:ringing', `${event}:${status}`]);
  expect((await api('POST', '/v2/sip/call/end', { callId: placed.call.id })).status).toBe(409);
  await receiver.close();
}, 20_000);

it("answers Plivo's refusal with 502 and places nothing twice; the call is failed, and a late answer_url request for it is hung up", async () => {
  const { authId, receiver } = await placingConnector();
  const before = emulator.current.requests.length;
  // Not E.164, or naming an inbound rule: refused before Plivo is asked.
  expect((await place({ sipCallTo: '+1415555', destinationRoomId: 'outbound-refused' })).status).toBe(400);
  const inbound = await api('POST', '/v2/sip/routing-rule', { name: 'inbound', type: 'inbound', room: { type: 'static', id: 'outbound-refused' } });
  expect((await place({ sipCallTo: ANSWERS, routingRuleId: inbound.body.id })).body).toMatchObject({ code: 'bad_request', message: expect.stringContaining('routingRuleId') });
  const wrong = await api('POST', '/v2/connectors', { provider: 'plivo', plivoAuthId: authId, plivoAuthToken: 'x'.repeat(40) });
  const failed = await place({ sipCallTo: ANSWERS, destinationRoomId: 'outbound-refused', connectorId: wrong.data.id });
  expect(failed.status).toBe(502);
  expect(failed.body).toMatchObject({ code: 'plivo_error' });
  expect(emulator.current.requests.slice(before).filter((r) => r.method === 'POST')).toHaveLength(1);
  const calls = (await api('GET', '/v2/sip/call?roomId=outbound-refused')).body.data as CallView[];
  expect(calls.map((c) => [c.status, c.additionalDetails.hangupReason])).toEqual([['failed', 'plivo-error']]);
  // Had Plivo placed it after all (an answer lost on the way), its answer_url request is answered with a hangup.
  const late = await plivoCallback(`${wrong.data.webhookUrl as string}?callId=${(calls[0] as CallView).id}`, { CallUUID: randomUUID(), From: FROM, To: ANSWERS, Direction: 'outbound', CallStatus: 'in-progress' }, { authToken: 'x'.repeat(40) });
  expect(late).toMatchObject({ status: 200, body: expect.stringContaining('<Hangup') as unknown });
  await receiver.close();
});

it('keeps call control to the tenant: 404 for another tenant, 409 without credentials', async () => {
  const { connectorId, receiver } = await placingConnector();
  const placed = await place({ sipCallTo: ANSWERS, destinationRoomId: 'outbound-tenants', waitUntilAnswered: true });
  const other = await tenantToken(local.dataDir, 'outbound-other-tenant');
  expect((await api('POST', '/v2/sip/call/end', { callId: placed.call.id }, other)).status).toBe(404);
  expect((await api('POST', '/v2/sip/call/transfer', { callId: placed.call.id, transferTo: ANSWERS }, other)).status).toBe(404);
  expect((await api('POST', '/v2/sip/call', { sipCallTo: ANSWERS, sipCallFrom: FROM, roomId: 'x', connectorId }, other)).status).toBe(404);
  expect((await api('POST', '/v2/sip/call', { sipCallTo: ANSWERS, sipCallFrom: FROM, roomId: 'x' }, other)).body).toMatchObject({ code: 'plivo_credentials_missing' });
  expect((await api('GET', `/v2/sip/call/${placed.call.id}`, undefined, other)).status).toBe(404);
  expect((await api('POST', '/v2/sip/call/end', { callId: placed.call.id })).status).toBe(200);
  await receiver.close();
}, 20_000);

/** `events`, in order, with `optional` ones left out (a step Plivo's callbacks may overtake). */
const without = (events: string[], optional: string[]) => events.filter((event) => !optional.includes(event));

it('transfers an answered call: accepted, the caller leaves the room for the target; failed, the caller is back in its room and hears it', async () => {
  const { receiver, authId } = await placingConnector();
  const peer = await RoomPeer.join(local.stack.info.mediaUrl, 'outbound-transfer', { token: local.stack.info.token });
  const transferred = await place({ sipCallTo: ANSWERS, destinationRoomId: 'outbound-transfer', waitUntilAnswered: true });
  const callUuid = transferred.call.additionalDetails.callUuid as string;
  const accepted = await api('POST', '/v2/sip/call/transfer', { callId: transferred.call.id, transferTo: 'sip:desk@example.com', playDialtone: true });
  expect(accepted.status).toBe(200);
  expect(accepted.data).toMatchObject({ id: transferred.call.id, additionalDetails: { transfer: { to: 'sip:desk@example.com', dialtone: true, outcome: null } } });
  const transferRequest = emulator.current.requests.find((r) => r.method === 'POST' && r.path === `/v1/Account/${authId}/Call/${callUuid}/`);
  expect(transferRequest?.body).toMatchObject({ legs: 'aleg', aleg_url: expect.stringContaining(`callId=${transferred.call.id}&transfer=xml`) as unknown });
  await peer.next('participant-left', (m) => m.participantId === `ph_${transferred.call.id.slice('call_'.length)}`);
  await waitFor(() => (without(eventsOf(receiver, transferred.call.id), ['call-transferring:transferring']).length >= 7 ? true : undefined), 5000);
  expect(without(eventsOf(receiver, transferred.call.id), ['call-transferring:transferring'])).toEqual([
    'call-started:initiated',
    'call-ringing:ringing',
    'call-answered:answered',
    'call-transfer-initiated:transfer-initiated',
    'call-transfer-ringing:transfer-ringing',
    'call-transfer-accepted:transfer-accepted',
    'call-transferred:transferred',
  ]);
  // The caller talks to the target now: the call is live until it is hung up.
  expect((await api('POST', '/v2/sip/call/end', { callId: transferred.call.id })).data).toMatchObject({ status: 'ended', additionalDetails: { hangupReason: 'api' } });

  const failing = await place({ sipCallTo: ANSWERS, destinationRoomId: 'outbound-transfer', waitUntilAnswered: true });
  await peer.until(() => (toneLevel(peer.receivedPcm(), CALLEE_TONE_HZ, 16000) > 4000 ? true : undefined), 'the callee heard in the room', 10_000);
  expect((await api('POST', '/v2/sip/call/transfer', { callId: failing.call.id, transferTo: BUSY })).status).toBe(200);
  await waitFor(() => (without(eventsOf(receiver, failing.call.id), ['call-transferring:transferring']).length >= 7 ? true : undefined), 10_000);
  expect(without(eventsOf(receiver, failing.call.id), ['call-transferring:transferring'])).toEqual([
    'call-started:initiated',
    'call-ringing:ringing',
    'call-answered:answered',
    'call-transfer-initiated:transfer-initiated',
    'call-transfer-ringing:transfer-ringing',
    'call-transfer-failed:transfer-failed',
    'call-answered:answered',
  ]);
  // Back in the room on a new stream: the room hears the callee again.
  const heardBefore = peer.frames.length;
  await peer.until(() => (toneLevel(peer.receivedPcm(heardBefore), CALLEE_TONE_HZ, 16000) > 4000 ? true : undefined), 'the callee heard again', 10_000);
  const back = (await api('GET', `/v2/sip/call/${failing.call.id}`)).data as unknown as CallView;
  expect(back).toMatchObject({ status: 'answered', roomId: 'outbound-transfer', additionalDetails: { answeredAt: failing.call.additionalDetails.answeredAt, transfer: { to: BUSY, dialtone: false, outcome: 'busy' } } });
  expect(emulator.current.call(failing.call.additionalDetails.callUuid as string)?.streams).toHaveLength(2);
  expect((await api('POST', '/v2/sip/call/end', { callId: failing.call.id })).status).toBe(200);
  expect((await api('POST', '/v2/sip/call/transfer', { callId: failing.call.id, transferTo: BUSY })).status).toBe(409);
  expect((await api('POST', '/v2/sip/call/transfer', { callId: failing.call.id, transferTo: 'desk' })).status).toBe(400);
  await peer.close();
  await receiver.close();
}, 40_000);
