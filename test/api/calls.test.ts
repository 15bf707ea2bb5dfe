import { answerFields, hangupFields, newCall, plivoRequest } from '../support/plivo';
import { startTestStack, type TestStack } from '../support/stack';

let t: TestStack;
let token: string;
let connectorA: { id: string; webhookUrl: string };
let connectorB: { id: string; webhookUrl: string };

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

interface Call {
  id: string;
  callUuid: string;
  connectorId: string;
  roomId: string | null;
  status: string;
}

const calls: { uuid: string; connector: string; room: string | null; status: string }[] = [];

beforeAll(async () => {
  t = await startTestStack();
  token = await t.token('acme');
  const make = async (body: Record<string, unknown>) =>
    (await json<{ data: { id: string; webhookUrl: string } }>(await t.api('POST', '/v2/connectors', { token, body: { provider: 'plivo', ...body } }))).data;
  connectorA = await make({ defaultRoomId: 'room-a' });
  connectorB = await make({});
  for (let i = 0; i < 6; i++) {
    const call = newCall();
    const c = i % 2 ? connectorB : connectorA;
    await plivoRequest(c.webhookUrl, answerFields(call));
    if (i === 2) await plivoRequest(c.webhookUrl, hangupFields(call));
    calls.push({ uuid: call.callUuid, connector: c.id, room: c === connectorA ? 'room-a' : null, status: c === connectorB ? 'rejected' : i === 2 ? 'ended' : 'started' });
  }
});
afterAll(() => t.close());

describe('call records API', () => {
  it('lists calls newest first, with every documented field', async () => {
    const res = await json<{ data: Record<string, unknown>[] }>(await t.api('GET', '/v2/calls', { token }));
    expect(res.data.map((c) => c.callUuid)).toEqual(calls.map((c) => c.uuid).reverse());
    expect(Object.keys(res.data[0]!).sort()).toEqual(
      ['id', 'callUuid', 'provider', 'connectorId', 'ruleId', 'roomId', 'region', 'from', 'to', 'status', 'startedAt', 'answeredAt', 'endedAt', 'durationSeconds', 'hangupReason', 'agentStatus'].sort(),
    );
    expect(JSON.stringify(res)).not.toMatch(/claimRef|ref=/);
  });

  it.each([
    ['status=started', (c: (typeof calls)[number]) => c.status === 'started'],
    ['status=rejected', (c: (typeof calls)[number]) => c.status === 'rejected'],
    ['status=ended', (c: (typeof calls)[number]) => c.status === 'ended'],
    ['roomId=room-a', (c: (typeof calls)[number]) => c.room === 'room-a'],
  ])('filters by %s', async (query, keep) => {
    const res = await json<{ data: Call[] }>(await t.api('GET', `/v2/calls?${query}`, { token }));
    expect(res.data.map((c) => c.callUuid)).toEqual(calls.filter(keep).map((c) => c.uuid).reverse());
  });

  it('filters by connector and pages through with a cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: Call[]; pageInfo: { nextCursor: string | null } } = await json(
        await t.api('GET', `/v2/calls?connectorId=${connectorA.id}&limit=1${cursor ? `&cursor=${cursor}` : ''}`, { token }),
      );
      seen.push(...page.data.map((c) => c.callUuid));
      cursor = page.pageInfo.nextCursor;
    } while (cursor);
    expect(seen).toEqual(calls.filter((c) => c.connector === connectorA.id).map((c) => c.uuid).reverse());
  });

  it('fetches one call, and hides it from other tenants', async () => {
    const list = await json<{ data: Call[] }>(await t.api('GET', '/v2/calls?limit=1', { token }));
    const call = list.data[0]!;
    expect(await json(await t.api('GET', `/v2/calls/${call.id}`, { token }))).toEqual({ data: call });
    const other = await t.token('other');
    expect((await t.api('GET', `/v2/calls/${call.id}`, { token: other })).status).toBe(404);
    expect((await json<{ data: Call[] }>(await t.api('GET', '/v2/calls', { token: other }))).data).toEqual([]);
    expect((await t.api('GET', '/v2/calls/call_nope', { token })).status).toBe(404);
  });

  it.each(['status=ringing', 'connectorId=cn_x', 'limit=0', 'cursor=abc', 'roomId=a%20b', 'sort=desc'])('refuses ?%s with 400', async (q) => {
    expect((await t.api('GET', `/v2/calls?${q}`, { token })).status).toBe(400);
  });
});
