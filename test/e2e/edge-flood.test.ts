import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { EDGE_RATE_WINDOW_SECONDS, EDGE_REFUSALS } from '../../lambdas/edge';
import type { SimulatedCall } from '../../tools/plivo-simulator';
import { realCallsHeard } from '../support/flood';
import { apiRequest, localProcessPerFile, waitFor } from '../support/local-process';
import { answerFields, newCall } from '../support/plivo';

/**
 * `npm start` with the edge on (the default, as deployed), each source address on loopback (127.0.0.x) a source of
 * its own. One source floods the Answer URL: 50 concurrent POSTs to unknown webhook keys from 127.0.0.2, past its
 * per-source limit, for as long as real calls are being placed from 127.0.0.1. Beyond its limit the flooding source
 * gets the web ACL's 403, while the valid connector's V3-signed calls are answered 200 and stream, and the REST API is
 * served. The limits are lowered (`EDGE_HOOKS_RATE_LIMIT`, `EDGE_API_RATE_LIMIT`) so a flood passes them within
 * seconds; the route budgets stay as deployed.
 */
const HOOKS_LIMIT = 300;
const API_LIMIT = 40;
const local = localProcessPerFile('e2e-edge-flood-', { EDGE_HOOKS_RATE_LIMIT: String(HOOKS_LIMIT), EDGE_API_RATE_LIMIT: String(API_LIMIT) });
const FLOOD_CONNECTIONS = 50;
const FLOODER = '127.0.0.2';

const unknownKey = () => `whk_${randomBytes(30).toString('base64url').replace(/[-_]/g, 'x')}`;

/** A request from `localAddress`: a form POST of `body`, or a GET with `headers`. */
function requestFrom(
  localAddress: string,
  url: string,
  { body, headers = {}, agent }: { body?: string; headers?: Record<string, string>; agent?: Agent },
): Promise<{ status: number; body: string }> {
  const form = body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const req = request(url, { method: body === undefined ? 'GET' : 'POST', agent, localAddress, headers: { ...form, ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

it("one source over its per-source limit gets 403 while another source's signed calls are answered and stream", async () => {
  const authToken = randomBytes(20).toString('hex');
  const { status, data } = await apiRequest(local.stack, 'POST', '/v2/connectors', { provider: 'plivo', defaultRoomId: 'edge-room', plivoAuthToken: authToken });
  expect(status).toBe(201);
  const answerUrl = data.webhookUrl as string;
  const hooks = `${local.stack.info.apiUrl}/v2/hooks/plivo/`;

  const agent = new Agent({ keepAlive: true, maxSockets: FLOOD_CONNECTIONS });
  const flood = new Map<number, number>();
  const refusals = new Set<string>();
  let realWorkDone = false;
  const started = performance.now();
  const flooding = Promise.all(
    Array.from({ length: FLOOD_CONNECTIONS }, async () => {
      while (!realWorkDone) {
        const res = await requestFrom(FLOODER, hooks + unknownKey(), { agent, body: new URLSearchParams(answerFields(newCall())).toString() });
        flood.set(res.status, (flood.get(res.status) ?? 0) + 1);
        if (res.status === 403) refusals.add(res.body);
      }
    }),
  );

  // The flooding source has spent its limit: the edge refuses it from here on.
  await waitFor(() => ((flood.get(403) ?? 0) > 100 ? true : undefined), 30_000);
  const calls: SimulatedCall[] = [];
  let restStatuses: number[] = [];
  try {
    restStatuses = await realCallsHeard(local.stack, answerUrl, authToken, '141555504', calls);
  } finally {
    realWorkDone = true;
    await flooding;
    agent.destroy();
    await Promise.all(calls.map((call) => call.hangup()));
  }
  const seconds = (performance.now() - started) / 1000;
  expect(restStatuses).toEqual([200, 200, 200]);
  expect(calls.map((call) => call.closeCode)).toEqual(calls.map(() => 1000));
  // The flood reached the handler (404: unknown key) only within its source's limit; the rest got the edge's 403.
  expect([...flood.keys()].sort()).toEqual([403, 404]);
  expect(flood.get(404)).toBeLessThanOrEqual(HOOKS_LIMIT + Math.ceil((seconds * HOOKS_LIMIT) / EDGE_RATE_WINDOW_SECONDS));
  expect([...refusals].map((body) => JSON.parse(body) as unknown)).toEqual([EDGE_REFUSALS.rateLimited]);
}, 90_000);

it('one source over its REST API limit gets 403 while another source is served', async () => {
  const url = `${local.stack.info.apiUrl}/v2/connectors`;
  const headers = { authorization: `Bearer ${local.stack.info.token}` };
  const statuses: number[] = [];
  let refused = '';
  for (let i = 0; i < API_LIMIT + 10; i++) {
    const res = await requestFrom('127.0.0.3', url, { headers });
    statuses.push(res.status);
    if (res.status === 403) refused = res.body;
  }
  // Within its limit (plus what refilled meanwhile, at API_LIMIT a minute) it was served; then refused by the edge.
  expect(statuses.slice(0, API_LIMIT)).toEqual(Array.from({ length: API_LIMIT }, () => 200));
  expect(statuses.at(-1)).toBe(403);
  expect(JSON.parse(refused)).toEqual(EDGE_REFUSALS.rateLimited);
  expect((await requestFrom('127.0.0.4', url, { headers })).status).toBe(200);
}, 30_000);
