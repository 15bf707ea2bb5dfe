import { request } from 'node:http';
import { EDGE_REFUSALS } from '../../lambdas/edge';
import { answerFields, newCall } from '../support/plivo';
import { startTestStack, type TestStack } from '../support/stack';

/**
 * `PLIVO_SOURCE_RANGES`: the Answer URL answers only the sources listed (Plivo's published ranges). With the edge (the
 * default, `apiEdge`), the gateway's edge rules refuse any other source with 403 as the web ACL does, before the route
 * or the handler; without it (`API_EDGE=false`, as `apiEdge: false` deploys), the handler judges the gateway's source
 * address before it reads anything, as it judges API Gateway's in AWS.
 * Loopback has room for two sources: 127.0.0.1 is listed, 127.0.0.2 is not.
 */
const RANGES = '127.0.0.1/32, 2001:db8::/32';
let t: TestStack;
let edge: TestStack;
let answerUrl: string;
let edgeAnswerUrl: string;

async function connectorUrl(stack: TestStack): Promise<string> {
  const token = await stack.token('ranges');
  const res = await stack.api('POST', '/v2/connectors', { token, body: { provider: 'plivo', defaultRoomId: 'ranges-room' } });
  return ((await res.json()) as { data: { webhookUrl: string } }).data.webhookUrl;
}

beforeAll(async () => {
  [t, edge] = await Promise.all([startTestStack({ PLIVO_SOURCE_RANGES: RANGES, API_EDGE: 'false' }), startTestStack({ PLIVO_SOURCE_RANGES: RANGES })]);
  [answerUrl, edgeAnswerUrl] = await Promise.all([connectorUrl(t), connectorUrl(edge)]);
});
afterAll(() => Promise.all([t?.close(), edge?.close()]));

/** A request sent from `localAddress`: a Plivo Answer POST of `fields`, or a GET with `headers`. */
function answerFrom(
  localAddress: string,
  url: string,
  fields?: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; contentType: string }> {
  const body = fields && new URLSearchParams(fields).toString();
  const form = body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const req = request(url, { method: body === undefined ? 'GET' : 'POST', localAddress, headers: { ...form, ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, contentType: res.headers['content-type'] ?? '' }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

it('with the edge, refuses any other source with the web ACL\'s 403 before the handler runs; the REST API serves every source', async () => {
  const listed = await answerFrom('127.0.0.1', edgeAnswerUrl, answerFields(newCall()));
  expect(listed.status).toBe(200);
  expect(listed.body).toContain('<Stream');

  const call = newCall();
  const outside = await answerFrom('127.0.0.2', edgeAnswerUrl, answerFields(call));
  expect(outside).toMatchObject({ status: 403, contentType: 'application/json' });
  expect(JSON.parse(outside.body)).toEqual(EDGE_REFUSALS.sourceRefused);
  // No handler ran: it logs neither its own refusal nor the call.
  expect(edge.logLines.some((line) => line.includes('answer refused') || line.includes(call.callUuid))).toBe(false);
  const rest = await answerFrom('127.0.0.2', `${edge.stack.apiUrl}/v2/connectors`, undefined, { authorization: `Bearer ${await edge.token('ranges')}` });
  expect(rest.status).toBe(200);
});

it('without the edge (API_EDGE=false), answers a listed source and refuses any other with 403 Hangup XML, before reading the connector or recording a call', async () => {
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
