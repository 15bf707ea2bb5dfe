import { randomBytes } from 'node:crypto';
import type { SimulatedCall } from '../../tools/plivo-simulator';
import { realCallsHeard } from '../support/flood';
import { apiRequest, localProcessPerFile, waitFor } from '../support/local-process';
import { answerFields, newCall } from '../support/plivo';

/**
 * An anonymous flood at the Answer URL, through `npm start` with its deployed budgets (`HTTP_FUNCTIONS`) and without
 * the edge (`API_EDGE=false`, as `apiEdge: false` deploys; the flood and the calls share one source here, which only
 * the edge tells apart: test/e2e/edge-flood.test.ts): 50 concurrent POSTs to unknown webhook keys, for at least 2 s
 * and for as long as real calls are being placed. The valid connector's V3-signed calls are answered 200 and stream,
 * and the tenant's REST API is served throughout.
 */
const local = localProcessPerFile('e2e-answer-flood-', { API_EDGE: 'false' });
const FLOOD_CONNECTIONS = 50;
const FLOOD_MIN_MS = 2000;

const unknownKey = () => `whk_${randomBytes(30).toString('base64url').replace(/[-_]/g, 'x')}`;

it('a flood of unknown-key requests refuses neither real signed calls nor the REST API', async () => {
  const authToken = randomBytes(20).toString('hex');
  const { status, data } = await apiRequest(local.stack, 'POST', '/v2/connectors', { provider: 'plivo', defaultRoomId: 'flood-room', plivoAuthToken: authToken });
  expect(status).toBe(201);
  const answerUrl = data.webhookUrl as string;
  const hooks = `${local.stack.info.apiUrl}/v2/hooks/plivo/`;

  const flood = new Map<number, number>();
  let realWorkDone = false;
  const started = Date.now();
  const flooding = Promise.all(
    Array.from({ length: FLOOD_CONNECTIONS }, async () => {
      while (!realWorkDone || Date.now() - started < FLOOD_MIN_MS) {
        const res = await fetch(hooks + unknownKey(), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(answerFields(newCall())).toString(),
        });
        await res.arrayBuffer();
        flood.set(res.status, (flood.get(res.status) ?? 0) + 1);
      }
    }),
  );
  const sent = () => [...flood.values()].reduce((a, b) => a + b, 0);

  // Past the burst that a shared budget would have allowed, the real traffic starts.
  await waitFor(() => (sent() > 400 ? true : undefined), 20_000);
  const calls: SimulatedCall[] = [];
  let restStatuses: number[] = [];
  try {
    restStatuses = await realCallsHeard(local.stack, answerUrl, authToken, '141555502', calls);
  } finally {
    realWorkDone = true;
    await flooding;
    await Promise.all(calls.map((call) => call.hangup()));
  }
  expect(restStatuses).toEqual([200, 200, 200]);
  expect(calls.map((call) => call.closeCode)).toEqual(calls.map(() => 1000));
  // Every flood request was refused as unknown, cheaply, and none of them ran the Answer URL's budget dry.
  expect([...flood.keys()]).toEqual([404]);
  expect(sent()).toBeGreaterThan(400);
}, 60_000);
