import { callIdFor, MAX_TRANSFERS, type CallRecord, type CallView } from '../../core/calls/model';
import { DynamoCallStore } from '../../core/calls/store';
import { dynamoClient } from '../../core/aws';
import { LOCAL_TABLE_NAME } from '../../local/aws';
import { tone } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { waitFor } from '../support/local-process';
import { answerFields, hangupFields, newCall, plivoRequest } from '../support/plivo';
import { startTestStack, type TestStack } from '../support/stack';
import { startReceiver } from '../support/webhook-receiver';

/**
 * The SIP call log on the local stack: calls made through the Answer URL and a real media server for each inbound
 * status, and records written straight to the store (tenant `crafted`) where a filter or a page edge needs exact
 * start times, rules, types and hidden numbers.
 */
let t: TestStack;
let token: string;
let store: DynamoCallStore;
const dynamo = () => dynamoClient({ region: 'us-east-1', dynamodbEndpoint: t.stack.aws.dynamodbEndpoint });

interface Page {
  data: CallView[];
  pageInfo: { currentPage: number; perPage: number; lastPage: number; total: number };
}

const get = async (path: string, as = token) => {
  const res = await t.api('GET', path, { token: as });
  return { status: res.status, body: (await res.json()) as Page & { data: CallView | CallView[]; message?: string; code?: string } };
};
const page = async (query: string, as = token): Promise<Page> => {
  const { status, body } = await get(`/v2/sip/call${query}`, as);
  expect(status).toBe(200);
  return body;
};
const one = async (id: string, as = token): Promise<CallView> => (await get(`/v2/sip/call/${id}`, as)).body.data as CallView;

/** 25 calls a minute apart from BASE (newest last), written as the Answer URL would. */
const BASE = Date.parse('2026-06-01T12:00:00.000Z');
const crafted: CallRecord[] = Array.from({ length: 25 }, (_, i) => {
  const startedAt = new Date(BASE + i * 60_000).toISOString();
  return {
    id: callIdFor(`crafted-${i}`),
    tenant: 'crafted',
    type: i === 7 ? 'outbound' : 'inbound',
    callUuid: `crafted-${i}`,
    provider: 'plivo',
    connectorId: 'cn_0000000000000000',
    ruleId: i % 5 === 0 ? 'rr_aaaaaaaaaaaaaaaa' : null,
    roomId: i % 2 ? 'odd-room' : `even-room-${i}`,
    region: 'us002',
    from: `+1415555${String(1000 + i)}`,
    to: '+14155550199',
    hidePhoneNumber: i === 3,
    status: 'incoming',
    timelog: [{ status: 'incoming', at: startedAt }],
    startedAt,
    answeredAt: null,
    endedAt: null,
    durationSeconds: null,
    hangupReason: null,
    hangupCause: null,
    agentStatus: null,
    stream: null,
    claimRef: null,
    metadata: {},
  };
});
const newestFirst = (records: readonly CallRecord[]) => [...records].reverse().map((c) => c.id);

let connector: { id: string; webhookUrl: string };
let refusing: { id: string; webhookUrl: string };

beforeAll(async () => {
  t = await startTestStack();
  token = await t.token('acme');
  const make = async (body: Record<string, unknown>) =>
    ((await (await t.api('POST', '/v2/connectors', { token, body: { provider: 'plivo', ...body } })).json()) as { data: { id: string; webhookUrl: string } }).data;
  connector = await make({ defaultRoomId: 'room-a' });
  refusing = await make({});
  store = new DynamoCallStore(dynamo(), LOCAL_TABLE_NAME);
  for (const record of crafted) await store.create(record, 1);
});
afterAll(() => t.close());

describe('each inbound status, with its timelog', () => {
  it('incoming: the Answer URL routed it', async () => {
    const call = newCall();
    await plivoRequest(connector.webhookUrl, answerFields(call));
    const shown = await one(callIdFor(call.callUuid));
    expect(shown).toMatchObject({ type: 'inbound', status: 'incoming', from: call.from, to: call.to, roomId: 'room-a', connectorId: connector.id, provider: 'plivo', end: null, metadata: {} });
    expect(shown.timelog).toEqual([{ status: 'incoming', at: shown.start }]);
  });

  it('rejected: routing refused it', async () => {
    const call = newCall();
    await plivoRequest(refusing.webhookUrl, answerFields(call));
    const shown = await one(callIdFor(call.callUuid));
    expect(shown).toMatchObject({ status: 'rejected', roomId: null, region: null, end: shown.start, additionalDetails: { hangupReason: 'no-route' } });
    expect(shown.timelog).toEqual([{ status: 'rejected', at: shown.start }]);
  });

  it("abandoned: Plivo's hangup came before the stream, with its cause, duration and CallUUID", async () => {
    const call = newCall();
    await plivoRequest(connector.webhookUrl, answerFields(call));
    await plivoRequest(connector.webhookUrl, hangupFields(call, { HangupCauseCode: '4000' }));
    const shown = await one(callIdFor(call.callUuid));
    expect(shown).toMatchObject({
      status: 'abandoned',
      additionalDetails: { callUuid: call.callUuid, hangupReason: 'Normal Hangup', hangupCause: '4000', durationSeconds: 42, answeredAt: null, agentStatus: null },
    });
    expect(shown.timelog.map((entry) => ('status' in entry ? entry.status : entry.event))).toEqual(['incoming', 'abandoned']);
    expect(shown.timelog[1]?.at).toBe(shown.end);
    // A second hangup changes nothing.
    await plivoRequest(connector.webhookUrl, hangupFields(call));
    expect(await one(shown.id)).toEqual(shown);
  });

  it('answered when the stream joined its room, then ended', async () => {
    const call = new SimulatedCall({ answerUrl: `${connector.webhookUrl}?roomId=stream-room` });
    await call.start();
    const id = callIdFor(call.callUuid);
    const answered = await waitFor(async () => ((await one(id)).status === 'answered' ? one(id) : undefined), 10_000);
    expect(answered).toMatchObject({ roomId: 'stream-room', end: null, additionalDetails: { answeredAt: answered.timelog[1]?.at } });
    expect(answered.timelog.map((entry) => ('status' in entry ? entry.status : entry.event))).toEqual(['incoming', 'answered']);
    await call.play(tone(500, 0.2));
    await call.hangup();
    const ended = await waitFor(async () => ((await one(id)).status === 'ended' ? one(id) : undefined), 10_000);
    expect(ended.timelog.slice(0, 2)).toEqual(answered.timelog);
    expect(ended.timelog.map((entry) => ('status' in entry ? entry.status : entry.event))).toEqual(['incoming', 'answered', 'ended']);
    expect(ended.timelog[2]?.at).toBe(ended.end);
    expect(ended.additionalDetails.durationSeconds).toBeGreaterThanOrEqual(0);
  }, 30_000);

  it('missed: the claim expired unused (the store move the sweeper makes)', async () => {
    const record = { ...crafted[0]!, id: callIdFor('to-miss'), callUuid: 'to-miss', tenant: 'misses' };
    await store.create(record, 1);
    const at = new Date(BASE + 120_000).toISOString();
    expect(await store.miss('misses', record.id, at, 1)).toMatchObject({ status: 'missed', hangupReason: 'claim-expired', endedAt: at });
    expect(await one(record.id, await t.token('misses'))).toMatchObject({ status: 'missed', end: at, timelog: [...record.timelog, { status: 'missed', at }] });
    // Missed is final: a late stream cannot answer it, a late hangup cannot end it.
    expect(await store.answer('misses', record.id, new Date().toISOString(), 'server-x', false)).toBeNull();
    expect(await store.abandon('misses', record.id, { endedAt: at, durationSeconds: null, hangupReason: 'x' }, 1, false)).toBeNull();
  });
});

describe('GET /v2/sip/call', () => {
  const as = () => t.token('crafted');

  it('answers the call objects, newest first, by page: 10 by default, the last page short, beyond it empty', async () => {
    const first = await page('', await as());
    expect(first.pageInfo).toEqual({ currentPage: 1, perPage: 10, lastPage: 3, total: 25 });
    expect(first.data.map((c) => c.id)).toEqual(newestFirst(crafted).slice(0, 10));
    expect(Object.keys(first.data[0]!)).toEqual(['id', 'type', 'status', 'from', 'to', 'roomId', 'ruleId', 'connectorId', 'provider', 'region', 'start', 'end', 'timelog', 'metadata', 'additionalDetails']);
    expect(JSON.stringify(first)).not.toMatch(/claimRef|tenant/);
    const third = await page('?page=3', await as());
    expect(third.data.map((c) => c.id)).toEqual(newestFirst(crafted).slice(20));
    expect(await page('?page=4', await as())).toEqual({ data: [], pageInfo: { currentPage: 4, perPage: 10, lastPage: 3, total: 25 } });
    const all = await page('?perPage=100', await as());
    expect(all.data.map((c) => c.id)).toEqual(newestFirst(crafted));
    expect((await page('?perPage=25&page=1', await as())).pageInfo).toEqual({ currentPage: 1, perPage: 25, lastPage: 1, total: 25 });
    expect((await page('?perPage=1&page=25', await as())).data.map((c) => c.id)).toEqual([crafted[0]!.id]);
  });

  it.each([
    ['roomId=odd-room', (c: CallRecord) => c.roomId === 'odd-room'],
    [`id=${callIdFor('crafted-4')}`, (c: CallRecord) => c.callUuid === 'crafted-4'],
    ['ruleId=rr_aaaaaaaaaaaaaaaa', (c: CallRecord) => c.ruleId === 'rr_aaaaaaaaaaaaaaaa'],
    ['type=outbound', (c: CallRecord) => c.type === 'outbound'],
    ['type=inbound', (c: CallRecord) => c.type === 'inbound'],
    ['search=even-room-1', (c: CallRecord) => (c.roomId ?? '').includes('even-room-1')],
    ['search=5551012', (c: CallRecord) => c.from.includes('5551012')],
    ['search=0199', (c: CallRecord) => !c.hidePhoneNumber],
    [`startDate=${BASE + 20 * 60_000}`, (c: CallRecord) => Date.parse(c.startedAt) >= BASE + 20 * 60_000],
    [`endDate=${BASE + 2 * 60_000}`, (c: CallRecord) => Date.parse(c.startedAt) <= BASE + 2 * 60_000],
    [`startDate=${BASE + 60_000}&endDate=${BASE + 3 * 60_000}&roomId=odd-room`, (c: CallRecord) => c.roomId === 'odd-room' && c.callUuid !== 'crafted-5' && Date.parse(c.startedAt) <= BASE + 3 * 60_000],
  ])('filters by %s, counting what matches', async (query, keep) => {
    const { data, pageInfo } = await page(`?perPage=100&${query}`, await as());
    const expected = crafted.filter(keep);
    expect(data.map((c) => c.id)).toEqual(newestFirst(expected));
    expect(pageInfo).toEqual({ currentPage: 1, perPage: 100, lastPage: Math.max(1, Math.ceil(expected.length / 100)), total: expected.length });
  });

  it('pages a filtered listing: page 2 of the odd rooms, 5 a page', async () => {
    const odd = crafted.filter((c) => c.roomId === 'odd-room');
    const second = await page('?roomId=odd-room&perPage=5&page=2', await as());
    expect(second.data.map((c) => c.id)).toEqual(newestFirst(odd).slice(5, 10));
    expect(second.pageInfo).toEqual({ currentPage: 2, perPage: 5, lastPage: 3, total: 12 });
    expect(await page('?roomId=no-such-room', await as())).toEqual({ data: [], pageInfo: { currentPage: 1, perPage: 10, lastPage: 1, total: 0 } });
  });

  it('masks the numbers of a call whose rule hides them, in the list and in GET, and does not search them', async () => {
    const hidden = crafted[3]!;
    const listed = (await page('?perPage=100', await as())).data.find((c) => c.id === hidden.id);
    expect(listed).toMatchObject({ from: '+*******1003', to: '+*******0199' });
    expect(await one(hidden.id, await as())).toEqual(listed);
    expect((await page('?search=5551003', await as())).data).toEqual([]);
    expect((await page('?search=5551004', await as())).data.map((c) => c.id)).toEqual([crafted[4]!.id]);
  });

  it.each([
    'page=0',
    'perPage=0',
    'perPage=101',
    'page=x',
    'startDate=yesterday',
    'endDate=-1',
    `startDate=${BASE + 1}&endDate=${BASE}`,
    'type=sideways',
    'id=call_nope',
    'roomId=a%20b',
    'search=',
    'limit=10',
    'status=ended',
    'cursor=abc',
  ])('refuses ?%s with 400 {message, code}', async (query) => {
    const { status, body } = await get(`/v2/sip/call?${query}`);
    expect(status).toBe(400);
    expect(body).toMatchObject({ message: expect.any(String), code: 'bad_request' });
  });

  it("shows a tenant its own calls only; another tenant's id is a 404", async () => {
    expect((await page('')).data.every((c) => c.connectorId !== 'cn_0000000000000000')).toBe(true);
    expect(await page('', await t.token('nobody'))).toEqual({ data: [], pageInfo: { currentPage: 1, perPage: 10, lastPage: 1, total: 0 } });
    const theirs = await get(`/v2/sip/call/${crafted[0]!.id}`);
    expect(theirs).toEqual({ status: 404, body: { message: `Call ${crafted[0]!.id} not found`, code: 'not_found' } });
    expect((await get('/v2/sip/call/call_nope')).status).toBe(404);
    expect(await one(crafted[0]!.id, await as())).toMatchObject({ id: crafted[0]!.id, additionalDetails: { callUuid: 'crafted-0' } });
  });

  it('is the only call log: /v2/calls is gone', async () => {
    expect((await t.api('GET', '/v2/calls', { token })).status).toBe(404);
    expect((await t.api('GET', `/v2/calls/${crafted[0]!.id}`, { token })).status).toBe(404);
  });
});

it("a hidden caller's webhook body shows the masked numbers, as GET does", async () => {
  const receiver = await startReceiver();
  try {
    const hookToken = await t.token('hidden');
    expect((await t.api('POST', '/v2/sip/webhooks', { token: hookToken, body: { url: receiver.url, events: ['call-hangup'] } })).status).toBe(201);
    const hooked = ((await (await t.api('POST', '/v2/connectors', { token: hookToken, body: { provider: 'plivo', defaultRoomId: 'r' } })).json()) as { data: { id: string; webhookUrl: string } }).data;
    // The record as the Answer URL writes it when the matched rule has hidePhoneNumber.
    const call = newCall({ from: '+14155550123', to: '+14155550100' });
    const startedAt = new Date().toISOString();
    const record: CallRecord = { ...crafted[0]!, id: callIdFor(call.callUuid), callUuid: call.callUuid, tenant: 'hidden', connectorId: hooked.id, ruleId: null, roomId: 'r', from: call.from, to: call.to, hidePhoneNumber: true, startedAt, timelog: [{ status: 'incoming', at: startedAt }] };
    await store.create(record, 1);
    await plivoRequest(hooked.webhookUrl, hangupFields(call));
    const delivered = await waitFor(() => receiver.received[0], 10_000);
    expect(delivered.payload.data).toMatchObject({ status: 'abandoned', from: '+*******0123', to: '+*******0100' });
    expect(delivered.body.toString('utf8')).not.toContain('4155550123');
    expect(delivered.payload.data).toEqual(await one(record.id, hookToken));
  } finally {
    await receiver.close();
  }
}, 20_000);

it('refuses an 11th transfer of a call with 409 transfer_limit, failed transfers counted; a 10th goes on to Plivo', async () => {
  /** An answered call of `acme` whose `transfers` transfers all failed (the caller back in its room after each). */
  const transferredTimes = async (transfers: number): Promise<string> => {
    const startedAt = new Date().toISOString();
    const record: CallRecord = {
      ...crafted[0]!,
      id: callIdFor(`transferred-${transfers}`),
      callUuid: `transferred-${transfers}`,
      tenant: 'acme',
      connectorId: connector.id,
      status: 'answered',
      startedAt,
      answeredAt: startedAt,
      timelog: [
        { status: 'incoming', at: startedAt },
        ...Array.from({ length: transfers }, () => [{ status: 'transfer-initiated', at: startedAt }, { status: 'transfer-failed', at: startedAt }, { status: 'answered', at: startedAt }] as const).flat(),
      ],
    };
    await store.create(record, 1);
    return record.id;
  };
  const transfer = async (callId: string) => {
    const res = await t.api('POST', '/v2/sip/call/transfer', { token, body: { callId, transferTo: '+14155550123' } });
    return { status: res.status, body: (await res.json()) as { message: string; code: string } };
  };
  expect(MAX_TRANSFERS).toBe(10);
  expect(await transfer(await transferredTimes(MAX_TRANSFERS))).toEqual({
    status: 409,
    body: { code: 'transfer_limit', message: expect.stringContaining('has been transferred 10 times, the most one call may be (10)') as unknown },
  });
  // One fewer: past the limit, to the next check (this connector holds no Plivo credentials).
  expect(await transfer(await transferredTimes(MAX_TRANSFERS - 1))).toMatchObject({ status: 409, body: { code: 'plivo_credentials_missing' } });
});
