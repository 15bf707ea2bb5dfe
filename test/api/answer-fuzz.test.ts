import fc from 'fast-check';
import { startTestStack, type TestStack } from '../support/stack';
import { flatCalls } from '../support/calls';

/**
 * Whatever arrives at the Answer URL (form bodies, query strings, GET or POST, any Content-Type, forged
 * signatures, odd hangup fields), the answer is Plivo XML with a 2xx/4xx status: never a 500.
 */
let t: TestStack;
let token: string;
let webhookUrl: string;
let signedUrl: string;

beforeAll(async () => {
  t = await startTestStack({ API_RATE_LIMIT: '100000', API_BURST_LIMIT: '100000', TENANT_RATE_LIMIT: '0' });
  token = await t.token('fuzz');
  const make = async (body: Record<string, unknown>) =>
    ((await (await t.api('POST', '/v2/connectors', { token, body: { provider: 'plivo', ...body } })).json()) as { data: { webhookUrl: string } }).data.webhookUrl;
  webhookUrl = await make({ defaultRoomId: 'fuzz-room' });
  signedUrl = await make({ defaultRoomId: 'fuzz-room', plivoAuthToken: 'F'.repeat(40) });
});
afterAll(() => t.close());

const field = fc.oneof(
  fc.constantFrom('CallUUID', 'From', 'To', 'Event', 'Duration', 'HangupCauseName', 'roomId', 'X-PH-A', 'CallStatus'),
  fc.string({ maxLength: 20 }),
);
const value = fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('Hangup', 'hangup', 'StartApp', '-1', 'NaN', '1e309', '', '+919812345678'));
const form = fc.array(fc.tuple(field, value), { maxLength: 12 });

async function check(res: Response): Promise<void> {
  const body = await res.text();
  expect(res.status).toBeLessThan(500);
  expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
  expect(body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Response(\/>|>.*<\/Response>)$/);
}

it('answers random form bodies with Plivo XML, never a 500', async () => {
  await fc.assert(
    fc.asyncProperty(form, fc.boolean(), async (pairs, signed) => {
      const body = new URLSearchParams(pairs).toString();
      await check(await fetch(signed ? signedUrl : webhookUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }));
    }),
    { numRuns: 150 },
  );
});

it('answers random query strings and raw bytes with Plivo XML, never a 500', async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 2000 }), fc.constantFrom('GET', 'POST'), async (rawQuery, bytes, method) => {
      const url = `${webhookUrl}?${encodeURI(rawQuery).replace(/#/g, '%23')}`;
      const init: RequestInit = method === 'POST' ? { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(bytes) } : { method };
      await check(await fetch(url, init));
    }),
    { numRuns: 150 },
  );
});

const roomIdValue = fc.oneof(fc.constantFrom('room-1', 'a'.repeat(128), 'a'.repeat(129), '', '-x', '__proto__', 'r/1', 'r%20'), fc.string({ maxLength: 40, unit: 'binary' }));

it('answers Plivo fields in a GET query, and a roomId in the query of either method, with Plivo XML', async () => {
  await fc.assert(
    fc.asyncProperty(form, fc.option(roomIdValue, { nil: undefined }), fc.constantFrom('GET', 'POST'), fc.boolean(), async (pairs, roomId, method, signed) => {
      const query = new URLSearchParams(method === 'GET' ? pairs : []);
      if (roomId !== undefined) query.append('roomId', roomId);
      const url = `${signed ? signedUrl : webhookUrl}?${query.toString()}`;
      const init: RequestInit = method === 'POST' ? { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(pairs).toString() } : { method };
      await check(await fetch(url, init));
    }),
    { numRuns: 150 },
  );
});

it('answers a POST of any Content-Type with Plivo XML (the form is read only from a form)', async () => {
  const contentType = fc.oneof(fc.constantFrom('application/json', 'text/plain', 'multipart/form-data; boundary=x', 'APPLICATION/X-WWW-FORM-URLENCODED; charset=latin1', 'application/x-www-form-urlencoded;', ''), fc.string({ maxLength: 30 }));
  await fc.assert(
    fc.asyncProperty(contentType, form, async (type, pairs) => {
      await check(await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': type }, body: new URLSearchParams(pairs).toString() }));
    }),
    { numRuns: 100 },
  );
});

it('answers forged, malformed and missing Plivo signatures with 403 Hangup XML', async () => {
  const headerValue = fc.oneof(fc.base64String({ maxLength: 60 }), fc.string({ maxLength: 60 }), fc.constantFrom('', ',', ',,,', 'a,b', ' '.repeat(10)));
  const names = fc.subarray(['x-plivo-signature-v3', 'x-plivo-signature-v3-nonce', 'x-plivo-signature-ma-v3', 'x-plivo-signature-v2', 'x-plivo-signature-v2-nonce', 'x-plivo-signature-ma-v2']);
  await fc.assert(
    fc.asyncProperty(names, fc.array(headerValue, { minLength: 6, maxLength: 6 }), form, async (chosen, values, pairs) => {
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      chosen.forEach((name, i) => (headers[name] = (values[i] as string).replace(/[\r\n]/g, '')));
      const res = await fetch(signedUrl, { method: 'POST', headers, body: new URLSearchParams([['CallUUID', 'forged'], ...pairs]).toString() });
      expect(res.status).toBe(403);
      await check(res);
    }),
    { numRuns: 100 },
  );
});

it('ends a live call whatever its Hangup fields say, recording a sane duration and reason', async () => {
  const number = fc.oneof(fc.constantFrom('1e200', '-1e200', '1e309', '9'.repeat(400), '0x10', ' 5 ', '-0', '1.5', 'NaN', '', '42', '9007199254740993'), fc.string({ maxLength: 20 }));
  await fc.assert(
    fc.asyncProperty(number, number, fc.option(fc.string({ maxLength: 300, unit: 'binary' }), { nil: undefined }), async (duration, billDuration, cause) => {
      const callUuid = `hangup-${Math.random().toString(36).slice(2)}`;
      const started = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ CallUUID: callUuid, From: '14155550100', To: '14155550199' }).toString() });
      expect(started.status).toBe(200);
      const fields: Record<string, string> = { CallUUID: callUuid, Event: 'Hangup', Duration: duration, BillDuration: billDuration, ...(cause !== undefined && { HangupCauseName: cause }) };
      const res = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
      expect(res.status).toBe(200);
      await check(res);
      const calls = flatCalls((await (await t.api('GET', '/v2/sip/call?perPage=5', { token })).json()) as { data: unknown });
      const call = calls.find((c) => c.callUuid === callUuid);
      // No stream came: Plivo's hangup abandons the call.
      expect(call?.status).toBe('abandoned');
      expect(call?.durationSeconds === null || (Number.isSafeInteger(call?.durationSeconds) && (call?.durationSeconds as number) >= 0)).toBe(true);
      expect(call?.hangupReason?.length).toBeLessThanOrEqual(128);
    }),
    { numRuns: 60 },
  );
});

it('refuses an oversize body with 413 Hangup XML', async () => {
  const res = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `CallUUID=x&Pad=${'a'.repeat(70_000)}` });
  expect(res.status).toBe(413);
  await check(res);
});

it('keeps serving real calls after the fuzzing', async () => {
  const res = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'CallUUID=after-fuzz&From=14155550100&To=14155550199' });
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('<Stream');
  expect(t.logLines.filter((l) => l.includes('"level":"error"'))).toEqual([]);
});
