import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallView } from '../../core/calls/model';
import { callCallbackUrl } from '../../core/connectors/model';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { plivoRequest } from '../support/plivo';
import { apiRequest, localProcessPerFile, waitFor } from '../support/local-process';

/**
 * Plivo's Voice API silent, through `npm start`'s real process: PLIVO_API_URL points at a server that takes every
 * request and never answers. `POST /v2/sip/call`, `/end` and `/transfer` answer 504 `plivo_timeout` after
 * PLIVO_API_TIMEOUT_MS, having sent Plivo exactly one request each (nothing placed, hung up or transferred twice), and
 * leave the call as docs/operations.md says.
 */
const TIMEOUT_MS = 400;
/** What the silent Plivo was asked: method and path, in order. */
const asked: string[] = [];
/** Accounts whose auth id starts with this are refused at once, as Plivo refuses (`{api_id, error}`); others get silence. */
const REFUSED = 'MAREFUSE';
const silent = http.createServer((req, res) => {
  asked.push(`${req.method ?? ''} ${req.url ?? ''}`);
  req.resume();
  if (req.url?.startsWith(`/v1/Account/${REFUSED}`)) res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ api_id: 'refused', error: 'not allowed' }));
});
const env: Record<string, string> = { PLIVO_API_TIMEOUT_MS: String(TIMEOUT_MS) };
beforeAll(async () => {
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  env.PLIVO_API_URL = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
});
const local = localProcessPerFile('e2e-plivo-timeouts-', env);
afterAll(async () => {
  silent.closeAllConnections();
  await new Promise((resolve) => silent.close(resolve));
});

const api = (method: string, path: string, body?: unknown) => apiRequest(local.stack, method, path, body);
const FROM = '+14155550199';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A connector holding a Plivo account, its calls routed to `room`. */
async function placingConnector(room: string, authId = `MA${randomBytes(9).toString('hex').toUpperCase()}`) {
  const authToken = randomBytes(20).toString('hex');
  const { status, data } = await api('POST', '/v2/connectors', { provider: 'plivo', plivoAuthId: authId, plivoAuthToken: authToken, defaultRoomId: room });
  expect(status).toBe(201);
  return { authId, authToken, connectorId: data.id as string, answerUrl: data.webhookUrl as string };
}

/** Asks the API, expecting Plivo's silence: 504 with `{message, code}` no sooner than the timeout, and what Plivo was asked meanwhile (waiting twice the timeout more: nothing is retried). */
async function timedOut(path: string, body: unknown): Promise<string[]> {
  const before = asked.length;
  const started = Date.now();
  const res = await api('POST', path, body);
  expect(res.status).toBe(504);
  expect(res.body).toEqual({ code: 'plivo_timeout', message: `Plivo's Voice API did not answer within ${TIMEOUT_MS} ms; the request was not retried` });
  expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS);
  await sleep(2 * TIMEOUT_MS);
  return asked.slice(before);
}

const callView = async (callId: string) => (await api('GET', `/v2/sip/call/${callId}`)).data as unknown as CallView;

it('answers 504 when Make Call is never answered: Plivo asked once, the call failed (plivo-timeout)', async () => {
  const { authId, connectorId } = await placingConnector('timeouts-place');
  const sent = await timedOut('/v2/sip/call', { sipCallTo: '+14155557000', sipCallFrom: FROM, destinationRoomId: 'timeouts-place', connectorId });
  expect(sent).toEqual([`POST /v1/Account/${authId}/Call/`]);
  const calls = (await api('GET', '/v2/sip/call?roomId=timeouts-place')).body.data as CallView[];
  expect(calls.map((call) => [call.type, call.status, call.additionalDetails.hangupReason])).toEqual([['outbound', 'failed', 'plivo-timeout']]);
});

it('answers 504 when Hangup and Transfer are never answered: Plivo asked once each, the call still live in its room', async () => {
  const { authId, authToken, answerUrl } = await placingConnector('timeouts-live');
  const caller = new SimulatedCall({ answerUrl, from: '14155550123', authToken });
  await caller.connect(await caller.answer());
  const callId = await waitFor(async () => ((await api('GET', '/v2/sip/call?roomId=timeouts-live')).body.data as CallView[]).find((c) => c.status === 'answered')?.id);
  const callPath = `/v1/Account/${authId}/Call/${caller.callUuid}/`;

  expect(await timedOut('/v2/sip/call/end', { callId })).toEqual([`DELETE ${callPath}`]);
  // Not ended: the hangup asked for is taken back, and asking again asks Plivo again.
  expect(await callView(callId)).toMatchObject({ status: 'answered', additionalDetails: { hangupReason: null } });

  expect(await timedOut('/v2/sip/call/transfer', { callId, transferTo: '+14155557000' })).toEqual([`POST ${callPath}`]);
  // Plivo may still run it: the call waits, transfer-initiated, with the caller still in its room.
  expect(await callView(callId)).toMatchObject({ status: 'transfer-initiated', roomId: 'timeouts-live', additionalDetails: { transfer: { to: '+14155557000', outcome: null } } });
  expect(caller.closeCode).toBeNull();
  // Plivo runs the transfer after all, as it does: the caller's stream stops first (the call is not ended by it), then
  // its fetch of the transfer XML is answered with the <Dial>, and the transfer goes on.
  await caller.closeStream();
  await sleep(500);
  expect(await callView(callId)).toMatchObject({ status: 'transfer-initiated' });
  const dial = await plivoRequest(callCallbackUrl(answerUrl, callId, 'xml'), { CallUUID: caller.callUuid, From: '14155550123', To: '14155550199', Direction: 'inbound' }, { authToken });
  expect(await dial.text()).toContain('<Number>+14155557000</Number></Dial>');
  expect(await callView(callId)).toMatchObject({ status: 'transfer-ringing' });
  await caller.hangup();
  await waitFor(async () => ((await callView(callId)).status === 'ended' ? true : undefined));
}, 20_000);

it("answers Plivo's refusal of a transfer with 502: the call is answered in its room again, and can be switched", async () => {
  const { answerUrl, authToken } = await placingConnector('refused-live', `${REFUSED}${randomBytes(6).toString('hex').toUpperCase()}`);
  const caller = new SimulatedCall({ answerUrl, from: '14155550124', authToken });
  await caller.connect(await caller.answer());
  const callId = await waitFor(async () => ((await api('GET', '/v2/sip/call?roomId=refused-live')).body.data as CallView[]).find((c) => c.status === 'answered')?.id);
  const refused = await api('POST', '/v2/sip/call/transfer', { callId, transferTo: '+14155557000' });
  expect(refused.status).toBe(502);
  const call = await callView(callId);
  expect(call).toMatchObject({ status: 'answered', roomId: 'refused-live', additionalDetails: { transfer: { outcome: 'plivo-error' } } });
  expect(call.timelog.flatMap((entry) => ('status' in entry ? [entry.status] : []))).toEqual(['incoming', 'answered', 'transfer-initiated', 'transfer-failed', 'answered']);
  expect(caller.closeCode).toBeNull();
  expect((await api('POST', '/v2/sip/call/switch-room', { callId, roomId: 'refused-elsewhere' })).status).toBe(200);
  await caller.hangup();
}, 20_000);
