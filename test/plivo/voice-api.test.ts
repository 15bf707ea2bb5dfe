import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ApiError } from '../../core/errors';
import { createLogger } from '../../core/log';
import { PlivoVoiceApi, type MakeCallRequest, type PlivoCredentials } from '../../core/plivo/voice-api';
import { streamXml } from '../../core/plivo/xml';
import { CALLEE_BEHAVIOURS } from '../../local/plivo/callee';
import { mulawDecode, mulawEncode } from '../../core/mulaw';
import { CALLEE_TONE_HZ, PlivoEmulator } from '../../local/plivo/emulator';
import { tone, toneLevel } from '../../tools/audio';
import { waitFor } from '../support/local-process';
import { startTestStack } from '../support/stack';
import { startPlivoReceiver, type PlivoReceiver, type PlivoRequest } from '../support/plivo-receiver';

/**
 * The Voice API client against the Plivo emulator on port 0, and the emulator's callbacks arriving at a real local
 * HTTP and WebSocket server (the connector's side), each V3 signature checked by core/plivo/signature.ts.
 */
const credentials: PlivoCredentials = { authId: 'MAEMULATORTEST000001', authToken: 'emulator-test-auth-token-0001' };
const quiet = createLogger('error', {}, () => undefined);

let emulator: PlivoEmulator;
let receiver: PlivoReceiver;
let api: PlivoVoiceApi;

beforeEach(async () => {
  emulator = await PlivoEmulator.start({ log: quiet, authTokenOf: (authId) => (authId === credentials.authId ? credentials.authToken : undefined) });
  receiver = await startPlivoReceiver(credentials.authToken);
  api = new PlivoVoiceApi({ baseUrl: emulator.url, allowPrivateTargets: true });
});

afterEach(async () => {
  await emulator.close();
  await receiver.close();
});

const call = (to: string, extra: Partial<MakeCallRequest> = {}): MakeCallRequest => ({
  from: '+14155550100',
  to,
  answerUrl: `${receiver.url}/answer`,
  ringUrl: `${receiver.url}/ring`,
  hangupUrl: `${receiver.url}/hangup`,
  ...extra,
});

/** Plivo's `<Stream>` to the receiver, as the connector answers it (keepCallAlive), with a status callback. */
const streamToReceiver = () => streamXml(`${receiver.streamUrl}?ref=r1`, `${receiver.url}/stream-status`);

const hangupOf = (path = '/hangup') => waitFor(() => receiver.at(path)[0], 8000);
const paths = (requests: readonly PlivoRequest[]) => requests.map((r) => (r.path === '/stream-status' ? `${r.path}:${r.fields.Event}` : r.path));

async function expectApiError(promise: Promise<unknown>, status: number, code: string, message: RegExp): Promise<void> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApiError);
  expect(err).toMatchObject({ status, code });
  expect((err as Error).message).toMatch(message);
}

describe('Make Call and Hang up', () => {
  it('rings, answers with a signed V3 request, streams the callee to the stream URL, and on DELETE (204, then 404) ends the stream and posts the hangup', async () => {
    receiver.reply('/answer', streamToReceiver());
    const placed = await api.makeCall(credentials, call('+14155550142', { ringTimeout: 5, timeLimit: 60 }));
    expect(placed.requestUuid).toMatch(/^[0-9a-f-]{36}$/);

    const stream = await waitFor(() => receiver.streams[0]);
    await waitFor(() => (stream.messages.filter((m) => m.event === 'media').length >= 5 ? true : undefined));
    const [ring, answer] = [receiver.at('/ring')[0] as PlivoRequest, receiver.at('/answer')[0] as PlivoRequest];
    expect(ring.fields).toMatchObject({ CallStatus: 'ringing', RequestUUID: placed.requestUuid, Direction: 'outbound', To: '+14155550142' });
    const callUuid = ring.fields.CallUUID as string;
    expect(answer.fields).toMatchObject({ CallUUID: callUuid, RequestUUID: placed.requestUuid, Direction: 'outbound', CallStatus: 'in-progress', From: '+14155550100', To: '+14155550142' });
    // Plivo's stream: a signed upgrade, then `start` naming the call, then 20 ms mu-law frames of the callee.
    expect(stream.signature).toBe('valid');
    expect(stream.path).toBe('/stream?ref=r1');
    expect(stream.messages[0]).toMatchObject({ event: 'start', start: { callId: callUuid, accountId: credentials.authId, tracks: ['inbound'], mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 } } });
    const media = stream.messages.filter((m) => m.event === 'media') as unknown as { media: { payload: string } }[];
    expect(stream.messages[1]?.event).toBe('media');
    const heard = media.map((m) => Buffer.from(m.media.payload, 'base64'));
    expect(heard.every((frame) => frame.length === 160)).toBe(true);
    expect(toneLevel(mulawDecode(Buffer.concat(heard)), CALLEE_TONE_HZ)).toBeGreaterThan(4000);
    // What the connector plays to the callee is what the emulated call heard.
    stream.socket.send(JSON.stringify({ event: 'playAudio', media: { contentType: 'audio/x-mulaw', sampleRate: 8000, payload: Buffer.from(mulawEncode(tone(1000, 0.02))).toString('base64') } }));
    await waitFor(() => (emulator.call(callUuid)?.streams[0]?.received.length ? true : undefined));
    expect(emulator.call(callUuid)).toMatchObject({ state: 'answered', from: '+14155550100', to: '+14155550142', authId: credentials.authId });

    await expect(api.hangup(credentials, callUuid)).resolves.toBe('ended');
    const hangup = await hangupOf();
    expect(hangup.fields).toMatchObject({ CallUUID: callUuid, Event: 'Hangup', CallStatus: 'completed', HangupCause: 'NORMAL_CLEARING', HangupSource: 'API Request', BillDuration: '60' });
    expect(hangup.fields.Duration).toMatch(/^\d+$/);
    expect(stream.closed).toBe(true);
    expect(stream.messages.at(-1)).toMatchObject({ event: 'stop' });
    await expect(api.hangup(credentials, callUuid)).resolves.toBe('already-ended');

    expect(paths(receiver.requests)).toEqual(['/ring', '/answer', '/stream-status:StartStream', '/stream-status:StopStream', '/hangup']);
    expect(receiver.requests.every((r) => r.signature === 'valid')).toBe(true);
    // The emulator saw the call, both DELETEs, JSON bodies with Plivo's names, with trailing slashes.
    const seen = emulator.requests.map((r) => `${r.method} ${r.path}`);
    const base = `/v1/Account/${credentials.authId}/Call/`;
    expect(seen).toEqual([`POST ${base}`, `DELETE ${base}${callUuid}/`, `DELETE ${base}${callUuid}/`]);
    expect(emulator.requests[0]).toMatchObject({ authId: credentials.authId, body: { from: '+14155550100', to: '+14155550142', answer_url: `${receiver.url}/answer`, answer_method: 'POST', ring_timeout: 5, time_limit: 60 } });
  });

  it.each([
    ['+14155550001', 'busy', 'USER_BUSY'],
    ['+14155550002', 'no-answer', 'NO_ANSWER'],
    ['+14155550004', 'timeout', 'NO_ANSWER'],
    ['+14155550005', 'failed', 'UNALLOCATED_NUMBER'],
  ])('a callee at %s ends the call %s without an answer request', async (to, status, cause) => {
    await api.makeCall(credentials, call(to, { ringTimeout: 2 }));
    const hangup = await hangupOf();
    expect(hangup.fields).toMatchObject({ Event: 'Hangup', CallStatus: status, HangupCause: cause, Duration: '0', BillDuration: '0' });
    expect(hangup.signature).toBe('valid');
    expect(paths(receiver.requests)).toEqual(['/ring', '/hangup']);
  });

  it('hangs up at time_limit (answer_method GET: the fields in the signed query), and a DELETE while ringing cancels the call', async () => {
    receiver.reply('/answer', streamToReceiver());
    await api.makeCall(credentials, call('+14155550142', { timeLimit: 1, answerMethod: 'GET' }));
    const limited = await hangupOf();
    expect(limited.fields).toMatchObject({ CallStatus: 'completed', HangupCause: 'ALLOTTED_TIMEOUT', Duration: '1' });
    expect(receiver.streams[0]?.closed).toBe(true);
    expect(receiver.at('/answer')[0]).toMatchObject({ method: 'GET', signature: 'valid', fields: { CallStatus: 'in-progress', Direction: 'outbound' } });
    expect(limited.method).toBe('POST');

    await api.makeCall(credentials, call('+14155550004', { ringTimeout: 30, hangupUrl: `${receiver.url}/hangup-2` }));
    const ring = await waitFor(() => receiver.at('/ring')[1]);
    await expect(api.hangup(credentials, ring.fields.CallUUID as string)).resolves.toBe('ended');
    expect((await hangupOf('/hangup-2')).fields).toMatchObject({ CallStatus: 'cancel', HangupCause: 'ORIGINATOR_CANCEL', Duration: '0' });
  });

  it('cancels a placed call that has not connected by its request_uuid (204, then 404 once it has ended)', async () => {
    const { requestUuid } = await api.makeCall(credentials, call('+14155550004', { ringTimeout: 30, hangupUrl: `${receiver.url}/hangup-cancel` }));
    await expect(api.cancel(credentials, requestUuid)).resolves.toBe('ended');
    expect((await hangupOf('/hangup-cancel')).fields).toMatchObject({ CallStatus: 'cancel', HangupCause: 'ORIGINATOR_CANCEL' });
    await expect(api.cancel(credentials, requestUuid)).resolves.toBe('already-ended');
    expect(emulator.requests.filter((r) => r.method === 'DELETE').map((r) => r.path)).toContain(`/v1/Account/${credentials.authId}/Request/${requestUuid}/`);
  });

  it('ends the call when the connector closes a keepCallAlive stream and no XML follows, and reports a stream it cannot open as dropped', async () => {
    receiver.reply('/answer', streamToReceiver());
    await api.makeCall(credentials, call('+14155550142'));
    const stream = await waitFor(() => receiver.streams[0]);
    stream.socket.close(1000);
    expect((await hangupOf()).fields).toMatchObject({ CallStatus: 'completed', HangupCauseName: 'End Of XML Instructions' });

    // Nothing listens at port 1: three attempts, then DroppedStream, and the XML (and the call) ends.
    receiver.reply('/answer-2', `<Response><Stream keepCallAlive="true" statusCallbackUrl="${receiver.url}/stream-status">ws://127.0.0.1:1/stream</Stream></Response>`);
    await api.makeCall(credentials, call('+14155550142', { answerUrl: `${receiver.url}/answer-2`, hangupUrl: `${receiver.url}/hangup-2` }));
    expect((await hangupOf('/hangup-2')).fields).toMatchObject({ CallStatus: 'completed', HangupCauseName: 'End Of XML Instructions' });
    expect(receiver.at('/stream-status').map((r) => r.fields.Event)).toEqual(['StartStream', 'StopStream', 'DroppedStream']);
  });

  it('degrade(): a signed DegradedStream for the open stream, to its statusCallbackUrl; none without an open stream', async () => {
    receiver.reply('/answer', streamToReceiver());
    await api.makeCall(credentials, call('+14155550142'));
    const stream = await waitFor(() => receiver.streams[0]);
    const callUuid = (await waitFor(() => receiver.at('/answer')[0])).fields.CallUUID as string;
    await waitFor(() => receiver.at('/stream-status')[0]);
    await expect(emulator.degrade(callUuid)).resolves.toBe(true);
    const started = receiver.at('/stream-status')[0] as PlivoRequest;
    const degraded = receiver.at('/stream-status')[1] as PlivoRequest;
    expect(degraded).toMatchObject({ signature: 'valid', fields: { Event: 'DegradedStream', CallUUID: callUuid, StreamID: started.fields.StreamID } });
    expect(degraded.fields.Timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    await expect(api.hangup(credentials, callUuid)).resolves.toBe('ended');
    await hangupOf();
    expect(stream.closed).toBe(true);
    await expect(emulator.degrade(callUuid)).resolves.toBe(false);
    await expect(emulator.degrade('no-such-call')).resolves.toBe(false);
    expect(receiver.at('/stream-status').map((r) => r.fields.Event)).toEqual(['StartStream', 'DegradedStream', 'StopStream']);
  });

  it('ends the call when the callee hangs up (0003, 2 s after answering)', async () => {
    receiver.reply('/answer', streamToReceiver());
    await api.makeCall(credentials, call('+14155550003'));
    const hangup = await hangupOf();
    expect(hangup.fields).toMatchObject({ CallStatus: 'completed', HangupSource: 'Callee', Duration: '2' });
    expect(receiver.streams[0]?.closed).toBe(true);
  });
});

describe('Transfer', () => {
  const transferXml = (number: string) =>
    `<Response><Dial action="${receiver.url}/dial-action" callbackUrl="${receiver.url}/dial-callback" timeout="5"><Number>${number}</Number></Dial></Response>`;

  async function answeredCall(): Promise<string> {
    receiver.reply('/answer', streamToReceiver());
    await api.makeCall(credentials, call('+14155550142'));
    await waitFor(() => receiver.streams[0]);
    return receiver.at('/answer')[0]?.fields.CallUUID as string;
  }

  it('leaves the stream, dials the target, posts the dial callbacks and the action (completed), then runs its XML', async () => {
    const callUuid = await answeredCall();
    receiver.reply('/transfer', transferXml('+14155550003'));
    receiver.reply('/dial-action', '<Response><Hangup/></Response>');
    await api.transfer(credentials, callUuid, { alegUrl: `${receiver.url}/transfer` });

    const hangup = await hangupOf();
    expect(receiver.streams[0]?.closed).toBe(true);
    expect(receiver.at('/transfer')[0]?.fields).toMatchObject({ CallUUID: callUuid, CallStatus: 'in-progress' });
    expect(receiver.at('/dial-callback').map((r) => [r.fields.DialAction, r.fields.DialBLegStatus])).toEqual([['answer', 'answer'], ['hangup', 'hangup']]);
    expect(receiver.at('/dial-callback')[0]?.fields).toMatchObject({ DialALegUUID: callUuid, DialBLegTo: '+14155550003' });
    expect(receiver.at('/dial-action')[0]?.fields).toMatchObject({ CallUUID: callUuid, DialStatus: 'completed' });
    expect(hangup.fields).toMatchObject({ CallStatus: 'completed', HangupSource: 'Answer XML' });
    expect(paths(receiver.requests).filter((p) => !p.startsWith('/stream-status'))).toEqual(['/ring', '/answer', '/transfer', '/dial-callback', '/dial-callback', '/dial-action', '/hangup']);
    expect(receiver.requests.every((r) => r.signature === 'valid')).toBe(true);
    expect(emulator.requests[1]).toMatchObject({ method: 'POST', path: `/v1/Account/${credentials.authId}/Call/${callUuid}/`, body: { legs: 'aleg', aleg_url: `${receiver.url}/transfer`, aleg_method: 'POST' } });
  });

  it('a busy target: the action gets DialStatus busy, and the <Stream> it answers brings the caller back to a stream', async () => {
    const callUuid = await answeredCall();
    receiver.reply('/transfer', transferXml('+14155550001'));
    receiver.reply('/dial-action', streamXml(`${receiver.streamUrl}?ref=back`, `${receiver.url}/stream-status`));
    await api.transfer(credentials, callUuid, { alegUrl: `${receiver.url}/transfer` });

    const back = await waitFor(() => receiver.streams[1]);
    await waitFor(() => (back.messages.some((m) => m.event === 'media') ? true : undefined));
    expect(back.path).toBe('/stream?ref=back');
    expect(back.messages[0]).toMatchObject({ event: 'start', start: { callId: callUuid } });
    expect(receiver.streams[0]?.closed).toBe(true);
    expect(receiver.at('/dial-callback')).toEqual([]);
    expect(receiver.at('/dial-action')[0]?.fields).toMatchObject({ DialStatus: 'busy' });
    expect(receiver.at('/hangup')).toEqual([]);
  });

  it('a call hung up while bridged: the far party hangs up too (dial callback), no action is posted, the hangup is', async () => {
    const callUuid = await answeredCall();
    receiver.reply('/transfer', transferXml('+14155550142'));
    await api.transfer(credentials, callUuid, { alegUrl: `${receiver.url}/transfer` });
    await waitFor(() => receiver.at('/dial-callback')[0]);
    await expect(api.hangup(credentials, callUuid)).resolves.toBe('ended');
    expect((await hangupOf()).fields).toMatchObject({ CallStatus: 'completed', HangupSource: 'API Request' });
    await waitFor(() => receiver.at('/dial-callback')[1]);
    expect(receiver.at('/dial-callback').map((r) => r.fields.DialAction)).toEqual(['answer', 'hangup']);
    expect(receiver.at('/dial-action')).toEqual([]);
  });

  it('refuses a transfer of a call Plivo does not know as a Plivo error', async () => {
    await expectApiError(api.transfer(credentials, '6f6d0a8e-0000-4000-8000-000000000000', { alegUrl: `${receiver.url}/transfer` }), 502, 'plivo_error', /^Plivo answered 404: call not found$/);
  });
});

describe('failures', () => {
  it("surfaces Plivo's error as a 502 carrying Plivo's message", async () => {
    await expectApiError(api.makeCall(credentials, call('not a number')), 502, 'plivo_error', /^Plivo answered 400: to must be a phone number or a sip: URI$/);
  });

  it('names refused credentials', async () => {
    await expectApiError(api.makeCall({ ...credentials, authToken: 'wrong' }, call('+14155550142')), 502, 'plivo_error', /plivoAuthId and plivoAuthToken \(401\): Authentication failed/);
    expect(emulator.requests).toHaveLength(1);
    expect(receiver.requests).toEqual([]);
  });

  it('authenticates accounts from its lookup as well as the registered ones', async () => {
    const looked = await PlivoEmulator.start({ log: quiet, authTokenOf: (authId) => (authId === 'MALOOKEDUP' ? 'looked-up-token' : undefined) });
    try {
      const client = new PlivoVoiceApi({ baseUrl: looked.url, allowPrivateTargets: true });
      // Authenticated: the call is unknown (404, already ended), not the account (401).
      await expect(client.hangup({ authId: 'MALOOKEDUP', authToken: 'looked-up-token' }, 'no-such-call')).resolves.toBe('already-ended');
      await expectApiError(client.hangup({ authId: 'MALOOKEDUP', authToken: 'other' }, 'no-such-call'), 502, 'plivo_error', /\(401\)/);
      await expectApiError(client.hangup(credentials, 'no-such-call'), 502, 'plivo_error', /\(401\)/);
    } finally {
      await looked.close();
    }
  });

  describe('a Voice API that never answers', () => {
    let silent: Server;
    const received: string[] = [];
    beforeEach(async () => {
      silent = createServer((req) => received.push(`${req.method ?? ''} ${req.url ?? ''}`));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    });
    afterEach(async () => {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    });

    it('is a 504 after the timeout, and the Make Call is sent once, never retried', async () => {
      const slow = new PlivoVoiceApi({ baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, allowPrivateTargets: true, timeoutMs: 300 });
      const started = Date.now();
      await expectApiError(slow.makeCall(credentials, call('+14155550142')), 504, 'plivo_timeout', /did not answer within 300 ms/);
      expect(Date.now() - started).toBeLessThan(2000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(received).toEqual([`POST /v1/Account/${credentials.authId}/Call/`]);
    });
  });

  it('refuses an API at a loopback or plain-http address outside local mode, sending nothing', async () => {
    const strict = new PlivoVoiceApi({ baseUrl: emulator.url, allowPrivateTargets: false });
    await expectApiError(strict.hangup(credentials, 'x'), 502, 'plivo_error', /must be https at a public address/);
    expect(emulator.requests).toEqual([]);
  });
});

describe('npm start', () => {
  it("serves the emulator at plivoApiUrl, whose accounts are connectors' credentials, and places calls whose callbacks come back signed", async () => {
    const t = await startTestStack();
    try {
      const served = t.stack.plivoEmulator;
      expect(served?.url).toBe(t.stack.plivoApiUrl);
      const local = new PlivoVoiceApi({ baseUrl: t.stack.plivoApiUrl, allowPrivateTargets: true });
      const refused = /Authentication failed/;
      await expectApiError(local.hangup(credentials, 'unknown-call'), 502, 'plivo_error', refused);
      const created = await t.api('POST', '/v2/connectors', {
        token: t.stack.token,
        body: { provider: 'plivo', plivoAuthId: credentials.authId, plivoAuthToken: credentials.authToken },
      });
      expect(created.status).toBe(201);
      // Plivo's 404 for an unknown call: the Basic auth passed.
      expect(await local.hangup(credentials, 'unknown-call')).toBe('already-ended');
      await expectApiError(local.hangup({ ...credentials, authToken: 'wrong-token-wrong-token' }, 'unknown-call'), 502, 'plivo_error', refused);
      const placed = await local.makeCall(credentials, call('+14155550001'));
      const hangup = await hangupOf();
      expect(hangup.fields).toMatchObject({ RequestUUID: placed.requestUuid, CallStatus: 'busy' });
      expect(hangup.signature).toBe('valid');
    } finally {
      await t.close();
    }
  });
});

it("docs/plivo-emulator.md lists the callee behaviours of local/plivo/callee.ts", () => {
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'plivo-emulator.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `…(\d{4})` \| (.+) \|$/gm)].map(([, suffix, description]) => [suffix, description]);
  expect(Object.fromEntries(rows)).toEqual(Object.fromEntries(Object.entries(CALLEE_BEHAVIOURS).map(([suffix, b]) => [suffix, b.description])));
});
