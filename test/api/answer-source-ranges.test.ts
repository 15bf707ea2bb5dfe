import { request } from 'node:http';
import { answerFields, newCall } from '../support/plivo';
import { startTestStack, type TestStack } from '../support/stack';

/**
 * `PLIVO_SOURCE_RANGES`: the Answer URL answers only the sources listed (Plivo's published ranges), refusing any other
 * before it reads anything; locally the same handler judges the gateway's source address, as API Gateway's in AWS.
 * Loopback has room for two sources: 127.0.0.1 is listed, 127.0.0.2 is not.
 */
let t: TestStack;
let answerUrl: string;

beforeAll(async () => {
  t = await startTestStack({ PLIVO_SOURCE_RANGES: '127.0.0.1/32, 2001:db8::/32' });
  const token = await t.token('ranges');
  const res = await t.api('POST', '/v2/connectors', { token, body: { provider: 'plivo', defaultRoomId: 'ranges-room' } });
  answerUrl = ((await res.json()) as { data: { webhookUrl: string } }).data.webhookUrl;
});
afterAll(() => t.close());

/** A Plivo Answer POST sent from `localAddress`. */
function answerFrom(localAddress: string, url: string, fields: Record<string, string>): Promise<{ status: number; body: string }> {
  const body = new URLSearchParams(fields).toString();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', localAddress, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

it('answers a listed source and refuses any other with 403 Hangup XML, before reading the connector or recording a call', async () => {
  const listed = await answerFrom('127.0.0.1', answerUrl, answerFields(newCall()));
  expect(listed.status).toBe(200);
  expect(listed.body).toContain('<Stream');

  const call = newCall();
  const outside = await answerFrom('127.0.0.2', answerUrl, answerFields(call));
  expect(outside).toMatchObject({ status: 403, body: expect.stringContaining('<Hangup') });
  // An unknown key from outside gets the same refusal as a known one: nothing was looked up.
  const unknown = await answerFrom('127.0.0.2', answerUrl.replace(/whk_\w+/, `whk_${'x'.repeat(40)}`), answerFields(newCall()));
  expect(unknown.status).toBe(403);
  expect(t.logLines.filter((line) => line.includes('answer refused: source outside PLIVO_SOURCE_RANGES') && line.includes('"sourceIp":"127.0.0.2"'))).toHaveLength(2);
  expect(t.logLines.some((line) => line.includes(call.callUuid))).toBe(false);
});
