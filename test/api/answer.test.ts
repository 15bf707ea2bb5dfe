import { validateV3Signature } from 'plivo';
import { WebSocket } from 'ws';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { callIdFor } from '../../core/calls/model';
import { DynamoCallStore } from '../../core/calls/store';
import { ClaimStore } from '../../core/claims';
import { dynamoClient } from '../../core/aws';
import { SIGNATURE_REFUSALS } from '../../core/plivo/signature';
import { LOCAL_TABLE_NAME } from '../../local/aws';
import { answerFields, hangupFields, newCall, parseAnswer, plivoRequest, signatureHeaders, streamOf, v2SignatureHeaders, type ParsedAnswer } from '../support/plivo';
import { waitFor } from '../support/local-process';
import { startTestStack, type TestStack } from '../support/stack';
import { flatCalls, type FlatCall } from '../support/calls';

let t: TestStack;
let token: string;

beforeAll(async () => {
  t = await startTestStack();
  token = await t.token('acme');
});
afterAll(() => t.close());

interface Connector {
  id: string;
  webhookUrl: string;
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

async function connector(fields: Record<string, unknown> = {}, tenantToken = token): Promise<Connector> {
  const res = await t.api('POST', '/v2/connectors', { token: tenantToken, body: { provider: 'plivo', ...fields } });
  expect(res.status).toBe(201);
  return (await json<{ data: Connector }>(res)).data;
}

async function rule(body: Record<string, unknown>, tenantToken = token): Promise<{ id: string }> {
  const res = await t.api('POST', '/v2/sip/routing-rule', { token: tenantToken, body: { name: 'rule', type: 'inbound', ...body } });
  expect(res.status).toBe(201);
  return json<{ id: string }>(res);
}

async function answer(url: string, fields: Record<string, string>, options: Parameters<typeof plivoRequest>[2] = {}): Promise<ParsedAnswer> {
  return parseAnswer(await plivoRequest(url, fields, options));
}

async function callRecord(callUuid: string, tenantToken = token): Promise<FlatCall> {
  const res = await t.api('GET', '/v2/sip/call?perPage=100', { token: tenantToken });
  const call = flatCalls(await json<{ data: unknown }>(res)).find((c) => c.callUuid === callUuid);
  if (!call) throw new Error(`no call record for ${callUuid}`);
  return call;
}

function events(callUuid: string): string[] {
  return t.logLines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((r) => r.msg === 'call event' && r.callUuid === callUuid)
    .map((r) => r.event as string);
}

const HANGUP = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup reason="rejected"/></Response>';

describe('the Answer URL reply', () => {
  it('is the seed\'s <Stream> XML, exactly, with a fresh single-use ref and the stream status callback', async () => {
    const c = await connector({ defaultRoomId: 'demo-room' });
    const call = newCall();
    const a = await answer(c.webhookUrl, answerFields(call));
    expect(a.status).toBe(200);
    expect(a.contentType).toMatch(/^text\/xml/);
    expect(a.raw).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?><Response><Stream bidirectional="true" audioTrack="inbound" contentType="audio\/x-mulaw;rate=8000" keepCallAlive="true" statusCallbackUrl="[^"]+" statusCallbackMethod="POST">ws:\/\/127\.0\.0\.1:\d+\/plivo\?ref=[A-Za-z0-9_-]{32}<\/Stream><\/Response>$/,
    );
    const { attributes, url } = streamOf(a);
    expect(attributes).toEqual({
      bidirectional: 'true',
      audioTrack: 'inbound',
      contentType: 'audio/x-mulaw;rate=8000',
      keepCallAlive: 'true',
      statusCallbackUrl: `${c.webhookUrl}?callId=${callIdFor(call.callUuid)}`,
      statusCallbackMethod: 'POST',
    });
    expect(url.pathname).toBe('/plivo');
    expect(Buffer.from(url.searchParams.get('ref')!, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
  });

  it('accepts GET as well as POST', async () => {
    const c = await connector({ defaultRoomId: 'demo-room' });
    const a = await answer(c.webhookUrl, answerFields(newCall()), { method: 'GET' });
    expect(a.status).toBe(200);
    expect(streamOf(a).url.pathname).toBe('/plivo');
  });

  it('refuses a request without CallUUID with 400 and Hangup XML', async () => {
    const c = await connector({ defaultRoomId: 'demo-room' });
    const fields = answerFields(newCall());
    delete fields.CallUUID;
    const a = await answer(c.webhookUrl, fields);
    expect(a).toMatchObject({ status: 400, raw: HANGUP });
  });

  it.each(['PUT', 'DELETE'])('refuses %s with 405 and Hangup XML', async (method) => {
    const c = await connector({ defaultRoomId: 'demo-room' });
    const res = await fetch(c.webhookUrl, { method });
    expect(res.status).toBe(405);
    expect(await res.text()).toBe(HANGUP);
  });
});

describe('unknown, rotated and deleted keys', () => {
  it('all get the same 404 Hangup XML', async () => {
    // Both keys answer a call first, so the answer path has seen (and may remember) them.
    const rotated = await connector({ defaultRoomId: 'r' });
    const deleted = await connector({ defaultRoomId: 'r' });
    for (const c of [rotated, deleted]) expect((await answer(c.webhookUrl, answerFields(newCall()))).status).toBe(200);
    const rotation = await t.api('POST', `/v2/connectors/${rotated.id}/rotate-key`, { token });
    await t.api('DELETE', `/v2/connectors/${deleted.id}`, { token });
    const never = `${t.stack.apiUrl}/v2/hooks/plivo/whk_${'A'.repeat(40)}`;
    const malformed = `${t.stack.apiUrl}/v2/hooks/plivo/not-a-key`;
    const answers = await Promise.all([rotated.webhookUrl, deleted.webhookUrl, never, malformed].map((u) => answer(u, answerFields(newCall()))));
    for (const a of answers) expect({ status: a.status, raw: a.raw, type: a.contentType }).toEqual({ status: 404, raw: HANGUP, type: 'text/xml; charset=utf-8' });
    const fresh = ((await rotation.json()) as { data: { webhookUrl: string } }).data.webhookUrl;
    expect((await answer(fresh, answerFields(newCall()))).status).toBe(200);
    expect((await answer(rotated.webhookUrl, answerFields(newCall()))).status).toBe(404);
  });
});

describe('routing', () => {
  it('prefers the roomId query parameter over everything', async () => {
    const c = await connector({ defaultRoomId: 'default-room' });
    const call = newCall();
    const a = await answer(`${c.webhookUrl}?roomId=query-room`, answerFields(call));
    expect(a.status).toBe(200);
    expect(await callRecord(call.callUuid)).toMatchObject({ roomId: 'query-room', ruleId: null, status: 'incoming', connectorId: c.id });
  });

  it('refuses an invalid roomId query parameter, recording why', async () => {
    const c = await connector({ defaultRoomId: 'default-room' });
    const call = newCall();
    const a = await answer(`${c.webhookUrl}?roomId=${encodeURIComponent('bad room!')}`, answerFields(call));
    expect(a).toMatchObject({ status: 200, raw: HANGUP });
    expect(await callRecord(call.callUuid)).toMatchObject({ status: 'rejected', hangupReason: 'invalid-room-id' });
  });

  it('routes by the called number (To) to the inbound rule holding it, before the defaultRuleId, then the defaultRoomId', async () => {
    const tenant = await t.token('routing-tenant');
    const byNumber = await rule({ name: 'sales', phoneNumbers: ['+14155550199', '+14155550198'], room: { type: 'static', id: 'sales' } }, tenant);
    await rule({ name: 'outbound caller id', type: 'outbound', phoneNumbers: ['+14155550197'], room: { type: 'static', id: 'never' } }, tenant);
    const fallback = await rule({ name: 'fallback', room: { type: 'static', id: 'fallback' } }, tenant);
    const withRule = await connector({ defaultRuleId: fallback.id, defaultRoomId: 'never-used' }, tenant);
    const withRoom = await connector({ defaultRoomId: 'plain-default' }, tenant);
    const cases: [Connector, string, string, string | null, string][] = [
      [withRule, '14155550199', 'sales', byNumber.id, 'rule'],
      [withRule, '+14155550198', 'sales', byNumber.id, 'rule'],
      // An outbound rule's numbers are its caller ids: they route nothing in.
      [withRule, '14155550197', 'fallback', fallback.id, 'default-rule'],
      [withRule, '14155550000', 'fallback', fallback.id, 'default-rule'],
      [withRoom, '14155550199', 'sales', byNumber.id, 'rule'],
      [withRoom, '14155550000', 'plain-default', null, 'default-room'],
    ];
    for (const [c, to, room, ruleId, via] of cases) {
      const call = newCall({ to });
      expect((await answer(c.webhookUrl, answerFields(call))).status).toBe(200);
      const calls = flatCalls(await json<{ data: unknown }>(await t.api('GET', '/v2/sip/call?perPage=100', { token: tenant })));
      const record = calls.find((x) => x.callUuid === call.callUuid);
      expect([to, record?.roomId, record?.ruleId]).toEqual([to, room, ruleId]);
      expect(t.logLines.some((l) => l.includes('"msg":"call routed"') && l.includes(`"via":"${via}"`) && l.includes(call.callUuid))).toBe(true);
    }
    const queried = newCall({ to: '14155550199' });
    await answer(`${withRule.webhookUrl}?roomId=query-room`, answerFields(queried));
    expect((await callRecord(queried.callUuid, tenant)).roomId).toBe('query-room');
  });

  it('falls back to the connector\'s defaultRuleId, then defaultRoomId, then refuses with no-route', async () => {
    const tenant = await t.token('fallback-tenant');
    const fallback = await rule({ name: 'fallback', phoneNumbers: ['+19999999999'], room: { type: 'dynamic', prefix: 'participantNumber' } }, tenant);
    const withRule = await connector({ defaultRuleId: fallback.id, defaultRoomId: 'never-used' }, tenant);
    const withRoom = await connector({ defaultRoomId: 'plain-default' }, tenant);
    const nothing = await connector({}, tenant);
    const list = async () => flatCalls(await json<{ data: unknown }>(await t.api('GET', '/v2/sip/call?perPage=100', { token: tenant })));

    const a = newCall({ from: '14155550123' });
    await answer(withRule.webhookUrl, answerFields(a));
    const b = newCall();
    await answer(withRoom.webhookUrl, answerFields(b));
    const c = newCall();
    const refused = await answer(nothing.webhookUrl, answerFields(c));
    expect(refused).toMatchObject({ status: 200, raw: HANGUP });

    const calls = await list();
    expect(calls.find((x) => x.callUuid === a.callUuid)).toMatchObject({ ruleId: fallback.id, roomId: expect.stringMatching(/^14155550123-[0-9a-f]{12}$/) });
    expect(calls.find((x) => x.callUuid === b.callUuid)).toMatchObject({ ruleId: null, roomId: 'plain-default' });
    expect(calls.find((x) => x.callUuid === c.callUuid)).toMatchObject({ status: 'rejected', hangupReason: 'no-route', roomId: null, region: null });
    expect(t.logLines.some((l) => l.includes('"event":"call-hangup"') && l.includes(c.callUuid))).toBe(true);
  });

  it('refuses callers outside the rule’s allowedNumbers with Hangup XML, recording the call rejected by that rule', async () => {
    const tenant = await t.token('allowed-tenant');
    const gated = await rule({ name: 'gated', phoneNumbers: ['+14155550199'], allowedNumbers: ['+91*', '+1415555*'], room: { type: 'static', id: 'gated' } }, tenant);
    const c = await connector({ defaultRuleId: gated.id, defaultRoomId: 'never-used' }, tenant);
    const outsider = newCall({ from: '12125551234' });
    expect(await answer(c.webhookUrl, answerFields(outsider))).toMatchObject({ status: 200, raw: HANGUP });
    expect(await callRecord(outsider.callUuid, tenant)).toMatchObject({ status: 'rejected', hangupReason: 'caller-not-allowed', ruleId: gated.id, roomId: null });
    // A retry of the refused call is refused the same way, writing nothing new.
    expect(await answer(c.webhookUrl, answerFields(outsider))).toMatchObject({ status: 200, raw: HANGUP });
    // The defaultRuleId refuses the same way (to a number no rule holds).
    expect(await answer(c.webhookUrl, answerFields(newCall({ from: '12125551234', to: '14155550000' })))).toMatchObject({ raw: HANGUP });
    for (const from of ['919812345678', '+14155551234']) {
      const insider = newCall({ from });
      expect((await answer(c.webhookUrl, answerFields(insider))).status).toBe(200);
      expect(await callRecord(insider.callUuid, tenant)).toMatchObject({ status: 'incoming', roomId: 'gated', ruleId: gated.id });
    }
  });

  it("masks the numbers of a call its rule hides (hidePhoneNumber) in the call log, and only that call's", async () => {
    const tenant = await t.token('hidden-numbers-tenant');
    const hidden = await rule({ name: 'hidden', phoneNumbers: ['+14155550188'], hidePhoneNumber: true, room: { type: 'static', id: 'hidden' } }, tenant);
    const c = await connector({ defaultRoomId: 'shown' }, tenant);
    const masked = newCall({ from: '+919812345678', to: '+14155550188' });
    const shown = newCall({ from: '+919812345678', to: '+14155550100' });
    for (const call of [masked, shown]) expect((await answer(c.webhookUrl, answerFields(call))).status).toBe(200);
    expect(await callRecord(masked.callUuid, tenant)).toMatchObject({ ruleId: hidden.id, from: '+********5678', to: '+*******0188' });
    expect(await callRecord(shown.callUuid, tenant)).toMatchObject({ ruleId: null, from: '+919812345678', to: '+14155550100' });
    const one = await json<{ data: { from: string; to: string } }>(await t.api('GET', `/v2/sip/call/${callIdFor(masked.callUuid)}`, { token: tenant }));
    expect(one.data).toMatchObject({ from: '+********5678', to: '+*******0188' });
  });

  it('adds noiseCancellation (and its level) to <Stream> only for a rule that sets it; never extraHeaders', async () => {
    const tenant = await t.token('stream-options-tenant');
    await rule({ name: 'nc', phoneNumbers: ['+14155550191'], noiseCancellation: true, noiseCancellationLevel: 80, room: { type: 'static', id: 'r' } }, tenant);
    await rule({ name: 'nc-default-level', phoneNumbers: ['+14155550192'], noiseCancellation: true, room: { type: 'static', id: 'r' } }, tenant);
    await rule({ name: 'plain', phoneNumbers: ['+14155550193'], noiseCancellationLevel: 90, includeHeaders: 'ALL', room: { type: 'static', id: 'r' } }, tenant);
    const c = await connector({}, tenant);
    const seed = { bidirectional: 'true', audioTrack: 'inbound', contentType: 'audio/x-mulaw;rate=8000', keepCallAlive: 'true', statusCallbackUrl: expect.stringMatching(/\?callId=call_/), statusCallbackMethod: 'POST' };
    const nc = await answer(c.webhookUrl, answerFields(newCall({ to: '14155550191' })));
    expect(streamOf(nc).attributes).toEqual({ ...seed, noiseCancellation: 'true', noiseCancellationLevel: '80' });
    expect(nc.raw).toContain('statusCallbackMethod="POST" noiseCancellation="true" noiseCancellationLevel="80">');
    expect(streamOf(await answer(c.webhookUrl, answerFields(newCall({ to: '14155550192' }))))).toMatchObject({ attributes: { ...seed, noiseCancellation: 'true' } });
    const plain = await answer(c.webhookUrl, answerFields(newCall({ to: '14155550193' })));
    expect(streamOf(plain).attributes).toEqual(seed);
    expect(plain.raw).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Response><Stream bidirectional="true" audioTrack="inbound" contentType="audio\/x-mulaw;rate=8000" keepCallAlive="true" statusCallbackUrl="[^"]+" statusCallbackMethod="POST">ws:\/\/[^<]+<\/Stream><\/Response>$/);
  });

  it('gives dynamic rooms a fresh id per call, stable across retries (prefix blank: the id alone)', async () => {
    const tenant = await t.token('dynamic-tenant');
    const dyn = await rule({ name: 'dyn', room: { type: 'dynamic' } }, tenant);
    const c = await connector({ defaultRuleId: dyn.id }, tenant);
    const first = newCall();
    const second = newCall();
    await answer(c.webhookUrl, answerFields(first));
    await answer(c.webhookUrl, answerFields(first));
    await answer(c.webhookUrl, answerFields(second));
    const calls = flatCalls(await json<{ data: unknown }>(await t.api('GET', '/v2/sip/call', { token: tenant })));
    const rooms = calls.map((x) => x.roomId);
    expect(calls).toHaveLength(2);
    expect(new Set(rooms).size).toBe(2);
    for (const room of rooms) expect(room).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe('media region', () => {
  it('is the connector\'s region, else the caller\'s country\'s, else the home region', async () => {
    const pinned = await connector({ defaultRoomId: 'r', region: 'in002' });
    const derived = await connector({ defaultRoomId: 'r' });
    const cases: [Connector, string, string][] = [
      [pinned, '14155550100', 'in002'],
      [derived, '919812345678', 'in002'],
      [derived, '+919812345678', 'in002'],
      [derived, '14155550100', 'us002'],
      [derived, '442079460000', 'us002'],
      [derived, 'sip:alice@example.com', 'us002'],
      [derived, '', 'us002'],
    ];
    for (const [c, from, region] of cases) {
      const call = newCall({ from });
      expect((await answer(c.webhookUrl, answerFields(call))).status).toBe(200);
      expect([from, (await callRecord(call.callUuid)).region]).toEqual([from, region]);
    }
  });
});

describe('Plivo signatures', () => {
  const authToken = 'MAZDQ1ZGE2ZjEyMDk0NDdiYTM4ZjQ5ZWEwNGU3ZmYy';
  let signed: Connector;
  beforeAll(async () => {
    signed = await connector({ defaultRoomId: 'signed-room', plivoAuthToken: authToken });
  });

  it('accepts a correctly signed POST and GET', async () => {
    expect((await answer(signed.webhookUrl, answerFields(newCall()), { authToken })).status).toBe(200);
    expect((await answer(`${signed.webhookUrl}?roomId=q`, answerFields(newCall()), { authToken, method: 'GET' })).status).toBe(200);
  });

  it('accepts several comma-separated signatures when one is right, as during a token rotation', async () => {
    const fields = answerFields(newCall());
    const good = signatureHeaders(authToken, 'POST', signed.webhookUrl, fields);
    // Only the -V3 header, so the comma list alone must carry the right signature.
    const headers = { 'x-plivo-signature-v3-nonce': good['x-plivo-signature-v3-nonce']!, 'x-plivo-signature-v3': `AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,${good['x-plivo-signature-v3']}` };
    expect((await answer(signed.webhookUrl, fields, { headers })).status).toBe(200);
    const main = { ...good, 'x-plivo-signature-v3': 'AAAA', 'x-plivo-signature-ma-v3': good['x-plivo-signature-v3']! };
    expect((await answer(signed.webhookUrl, answerFields(newCall()), { headers: main })).status).toBe(403); // other fields
    expect((await answer(signed.webhookUrl, fields, { headers: main })).status).toBe(200);
  });

  it.each<[string, Record<string, string>]>([
    ['missing', {}],
    ['forged', { 'x-plivo-signature-v3': 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', 'x-plivo-signature-v3-nonce': '123' }],
    ['a V2 signature over another URL', { 'x-plivo-signature-v2': 'ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc=', 'x-plivo-signature-v2-nonce': '12345' }],
  ])('refuses a %s signature with 403 and Hangup XML, recording nothing', async (_what, headers) => {
    const call = newCall();
    const a = await answer(signed.webhookUrl, answerFields(call), { headers });
    expect(a).toMatchObject({ status: 403, raw: HANGUP });
    await expect(callRecord(call.callUuid)).rejects.toThrow('no call record');
  });

  it('refuses a signature made with another token, over another URL, or over other fields', async () => {
    expect((await answer(signed.webhookUrl, answerFields(newCall()), { authToken: 'x'.repeat(40) })).status).toBe(403);
    const fields = answerFields(newCall());
    const forRoomA = signatureHeaders(authToken, 'POST', `${signed.webhookUrl}?roomId=a`, fields);
    expect((await answer(`${signed.webhookUrl}?roomId=b`, fields, { headers: forRoomA })).status).toBe(403);
    expect((await answer(signed.webhookUrl, { ...fields, From: '15550000000' }, { headers: signatureHeaders(authToken, 'POST', signed.webhookUrl, fields) })).status).toBe(403);
    expect((await answer(`${signed.webhookUrl}?roomId=a`, fields, { headers: forRoomA })).status).toBe(200);
  });

  it('does not check signatures for a connector without an auth token', async () => {
    const open = await connector({ defaultRoomId: 'r' });
    expect((await answer(open.webhookUrl, answerFields(newCall()), { headers: { 'x-plivo-signature-v3': 'junk', 'x-plivo-signature-v3-nonce': 'n' } })).status).toBe(200);
  });
});

/** The stream upgrade's outcome: open (then closed again), or the refusal's status and body. */
function upgrade(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

describe('forgeries with a connector that holds a Plivo auth token', () => {
  const authToken = 'MAFORGERYTOKEN0123456789abcdefghijklmnop';
  let signed: Connector;
  beforeAll(async () => {
    signed = await connector({ defaultRoomId: 'public-room', plivoAuthToken: authToken });
  });
  const refusals = () => t.logLines.filter((line) => line.includes('answer refused: ' + SIGNATURE_REFUSALS['v2-only']));

  it('refuse a genuine V2-only Answer request with 403, logging that V3 is required, recording nothing', async () => {
    const call = newCall();
    const before = refusals().length;
    const a = await answer(signed.webhookUrl, answerFields(call), { headers: v2SignatureHeaders(authToken, signed.webhookUrl) });
    expect(a).toMatchObject({ status: 403, raw: HANGUP });
    expect(refusals().length).toBe(before + 1);
    await expect(callRecord(call.callUuid)).rejects.toThrow('no call record');
  });

  it('refuse a captured V2 header reused with another CallUUID and ?roomId= (V2 signs neither)', async () => {
    const captured = v2SignatureHeaders(authToken, signed.webhookUrl);
    const call = newCall();
    const a = await answer(`${signed.webhookUrl}?roomId=private-room`, answerFields(call), { headers: captured });
    expect(a).toMatchObject({ status: 403, raw: HANGUP });
    await expect(callRecord(call.callUuid)).rejects.toThrow('no call record');
  });

  it('refuse a V2-signed Event=Hangup: the live call goes on, and only Plivo\'s V3 hangup ends it', async () => {
    const plivo = new SimulatedCall({ answerUrl: signed.webhookUrl, authToken });
    await plivo.start();
    await waitFor(async () => ((await callRecord(plivo.callUuid)).status === 'answered' ? true : undefined), 15_000);
    const forged = await answer(signed.webhookUrl, hangupFields(newCall({ callUuid: plivo.callUuid })), { headers: v2SignatureHeaders(authToken, signed.webhookUrl) });
    expect(forged).toMatchObject({ status: 403, raw: HANGUP });
    expect(await callRecord(plivo.callUuid)).toMatchObject({ status: 'answered', end: null });
    await plivo.hangup();
    await waitFor(async () => ((await callRecord(plivo.callUuid)).status === 'ended' ? true : undefined), 15_000);
  });

  it('give a captured V3 request replayed the first answer, and a re-split of it (same signed string) nothing', async () => {
    const call = newCall();
    const fields = answerFields(call);
    const captured = signatureHeaders(authToken, 'POST', signed.webhookUrl, fields);
    const first = await answer(signed.webhookUrl, fields, { headers: captured });
    const replayed = await answer(signed.webhookUrl, fields, { headers: captured });
    expect(replayed.raw).toBe(first.raw);
    // V3 signs name + value with no separator: CallUUID swallowing `CallerName` + `Ada` signs the same string.
    const { CallerName, ...rest } = fields;
    const resplit = { ...rest, CallUUID: `${call.callUuid}CallerName${CallerName}` };
    expect(validateV3Signature('POST', signed.webhookUrl, captured['x-plivo-signature-v3-nonce']!, authToken, captured['x-plivo-signature-v3']!, resplit)).toBe(true);
    expect(await answer(signed.webhookUrl, resplit, { headers: captured })).toMatchObject({ status: 400, raw: HANGUP });
    const calls = flatCalls(await json<{ data: unknown }>(await t.api('GET', '/v2/sip/call?perPage=100', { token })));
    expect(calls.filter((c) => c.callUuid?.startsWith(call.callUuid))).toHaveLength(1);
    expect(events(call.callUuid)).toEqual(['call-started']);
  });

  it('refuse streams upgraded with a V2 header (valid for any ref), with 403 and why, leaving the claims unused', async () => {
    const urls = await Promise.all([newCall(), newCall()].map(async (call) => streamOf(await answer(signed.webhookUrl, answerFields(call), { authToken })).url.toString()));
    // One V2 header over the stream path signs every stream URL: the query, and so the ref, is left out.
    const captured = v2SignatureHeaders(authToken, urls[0]!.replace(/\?.*/, ''));
    for (const url of urls) {
      expect(await upgrade(url, captured)).toEqual({ status: 403, body: JSON.stringify({ message: SIGNATURE_REFUSALS['v2-only'], code: 'forbidden' }) });
    }
    const plivo = new SimulatedCall({ answerUrl: signed.webhookUrl, authToken });
    await plivo.connect(urls[0]!);
    await plivo.hangup();
  });
});

describe('retries and hangups', () => {
  it('answers a retried request with the same stream, one call record and one call-started', async () => {
    const c = await connector({ defaultRoomId: 'retry-room' });
    const call = newCall();
    const answers = await Promise.all([1, 2, 3].map(() => answer(c.webhookUrl, answerFields(call))));
    const refs = answers.map((a) => streamOf(a).url.searchParams.get('ref'));
    expect(new Set(refs).size).toBe(1);
    const later = await answer(c.webhookUrl, answerFields(call));
    expect(streamOf(later).url.searchParams.get('ref')).toBe(refs[0]);
    const calls = flatCalls(await json<{ data: unknown }>(await t.api('GET', '/v2/sip/call?perPage=100', { token })));
    expect(calls.filter((x) => x.callUuid === call.callUuid)).toHaveLength(1);
    expect(events(call.callUuid)).toEqual(['call-started']);
  });

  it('ends the call on Event=Hangup with duration and cause, answering <Response/>, never a stream: abandoned (no stream came)', async () => {
    const c = await connector({ defaultRoomId: 'hangup-room' });
    const call = newCall();
    await answer(c.webhookUrl, answerFields(call));
    const hung = await answer(c.webhookUrl, hangupFields(call));
    expect(hung).toMatchObject({ status: 200, raw: '<?xml version="1.0" encoding="UTF-8"?><Response/>' });
    expect(await callRecord(call.callUuid)).toMatchObject({ status: 'abandoned', durationSeconds: 42, hangupReason: 'Normal Hangup', end: expect.any(String) });
    // A repeated hangup changes nothing and emits nothing.
    expect((await answer(c.webhookUrl, hangupFields(call))).status).toBe(200);
    expect(events(call.callUuid)).toEqual(['call-started', 'call-hangup']);
  });

  it('answers a hangup for an unknown call with <Response/>', async () => {
    const c = await connector({ defaultRoomId: 'r' });
    const a = await answer(c.webhookUrl, hangupFields(newCall()));
    expect(a).toMatchObject({ status: 200, raw: '<?xml version="1.0" encoding="UTF-8"?><Response/>' });
  });
});

describe('claims', () => {
  it('are single-use and bound to the call', async () => {
    const c = await connector({ defaultRoomId: 'claim-room', region: 'us002' });
    const call = newCall();
    const ref = streamOf(await answer(c.webhookUrl, answerFields(call))).url.searchParams.get('ref')!;
    const claims = new ClaimStore(() => ({ dynamo: dynamoClient({ region: 'us-east-1', dynamodbEndpoint: t.stack.aws.dynamodbEndpoint }), tableName: LOCAL_TABLE_NAME }));
    const taken = await Promise.all([claims.take('us002', ref, 'server-a'), claims.take('us002', ref, 'server-b')]);
    const winners = taken.filter((x) => typeof x === 'object');
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ callUuid: call.callUuid, connectorId: c.id, roomId: 'claim-room', region: 'us002', from: call.from, to: call.to, ruleId: null });
    expect(taken.filter((x) => x === 'used')).toHaveLength(1);
    expect(await claims.take('us002', 'not-a-ref', 'server-a')).toBe('unknown');
  });

  it("carry `record: true` to the media server when the call's routing rule records its calls, and no `record` otherwise", async () => {
    const tenant = await t.token('recorded-calls-tenant');
    const c = await connector({ region: 'us002' }, tenant);
    await rule({ name: 'recorded', phoneNumbers: ['+14155550177'], recording: true, room: { type: 'static', id: 'recorded-room' } }, tenant);
    await rule({ name: 'unrecorded', phoneNumbers: ['+14155550178'], room: { type: 'static', id: 'plain-room' } }, tenant);
    const claims = new ClaimStore(() => ({ dynamo: dynamoClient({ region: 'us-east-1', dynamodbEndpoint: t.stack.aws.dynamodbEndpoint }), tableName: LOCAL_TABLE_NAME }));
    const claimOf = async (to: string) => {
      const ref = streamOf(await answer(c.webhookUrl, answerFields(newCall({ to })))).url.searchParams.get('ref')!;
      return claims.peek('us002', ref);
    };
    expect(await claimOf('+14155550177')).toMatchObject({ roomId: 'recorded-room', record: true });
    expect(await claimOf('+14155550178')).not.toHaveProperty('record');
  });
});

describe('a retry after the first attempt died between its writes', () => {
  it('writes the missing claim, so the replayed stream URL works', async () => {
    const c = await connector({ defaultRoomId: 'crash-room', region: 'us002' });
    const call = newCall();
    const dynamo = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: t.stack.aws.dynamodbEndpoint });
    // The first attempt's record, as written just before the process died: no claim yet.
    await new DynamoCallStore(dynamo, LOCAL_TABLE_NAME).create(
      {
        id: callIdFor(call.callUuid), tenant: 'acme', callUuid: call.callUuid, provider: 'plivo', connectorId: c.id, ruleId: null, roomId: 'crash-room',
        region: 'us002', from: call.from, to: call.to, type: 'inbound', hidePhoneNumber: false, status: 'incoming', timelog: [], startedAt: new Date().toISOString(), hangupCause: null, answeredAt: null, endedAt: null,
        durationSeconds: null, hangupReason: null, agentStatus: null, stream: null, claimRef: 'first-attempt-ref-0123456789abcdef', metadata: {},
      },
      1,
    );
    const replayed = await answer(c.webhookUrl, answerFields(call));
    expect(streamOf(replayed).url.searchParams.get('ref')).toBe('first-attempt-ref-0123456789abcdef');
    const claims = new ClaimStore(() => ({ dynamo, tableName: LOCAL_TABLE_NAME }));
    expect(await claims.take('us002', 'first-attempt-ref-0123456789abcdef', 's')).toMatchObject({ callUuid: call.callUuid, roomId: 'crash-room' });
    // A further retry does not revive the used claim.
    await answer(c.webhookUrl, answerFields(call));
    expect(await claims.take('us002', 'first-attempt-ref-0123456789abcdef', 's')).toBe('used');
    expect(events(call.callUuid)).toEqual([]);
  });
});

describe('claims with a short CLAIM_TTL_SECONDS', () => {
  it('expire: a late stream cannot take its claim, and its upgrade is refused with 410', async () => {
    const short = await startTestStack({ CLAIM_TTL_SECONDS: '1' });
    try {
      const shortToken = await short.token('acme');
      const res = await short.api('POST', '/v2/connectors', { token: shortToken, body: { provider: 'plivo', defaultRoomId: 'r' } });
      const c = (await json<{ data: Connector }>(res)).data;
      const [early, late, later] = [newCall(), newCall(), newCall()];
      const refOf = async (call: typeof early) => streamOf(await answer(c.webhookUrl, answerFields(call))).url.searchParams.get('ref')!;
      const earlyRef = await refOf(early);
      const lateRef = await refOf(late);
      const laterStream = streamOf(await answer(c.webhookUrl, answerFields(later))).url.toString();
      const claims = new ClaimStore(() => ({ dynamo: dynamoClient({ region: 'us-east-1', dynamodbEndpoint: short.stack.aws.dynamodbEndpoint }), tableName: LOCAL_TABLE_NAME }));
      expect(await claims.take('us002', earlyRef, 's')).toMatchObject({ callUuid: early.callUuid });
      await new Promise((r) => setTimeout(r, 1100));
      expect(await claims.take('us002', lateRef, 's')).toBe('expired');
      const plivo = new SimulatedCall({ answerUrl: c.webhookUrl });
      await expect(plivo.connect(laterStream, later.callUuid)).rejects.toThrow('stream upgrade refused: 410');
    } finally {
      await short.close();
    }
  });
});
