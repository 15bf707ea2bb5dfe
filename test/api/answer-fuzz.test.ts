import fc from 'fast-check';
import { startTestStack, type TestStack } from '../support/stack';

/** Whatever arrives at the Answer URL, the answer is Plivo XML with a 2xx/4xx status: never a 500. */
let t: TestStack;
let webhookUrl: string;
let signedUrl: string;

beforeAll(async () => {
  t = await startTestStack({ API_RATE_LIMIT: '100000', API_BURST_LIMIT: '100000' });
  const token = await t.token('fuzz');
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
