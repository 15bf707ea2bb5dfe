import { callIdFor, type CallRecord } from '../../core/calls/model';
import { CALL_LOG_READ_LIMIT, DynamoCallStore } from '../../core/calls/store';
import { CALLS_FROM, callUuid, endedCall } from '../support/calls';
import { capacityMeter } from '../support/capacity';
import { storeBackends, useStoreTable } from '../support/store-backends';

/** When the `i`th call of a tenant starts: one a minute. */
const minute = (i: number) => new Date(Date.parse(CALLS_FROM) + i * 60_000).toISOString();

async function seed(store: DynamoCallStore, tenant: string, calls: number): Promise<void> {
  for (let at = 0; at < calls; at += 50) {
    await Promise.all(Array.from({ length: Math.min(50, calls - at) }, (_, k) => store.create(endedCall(tenant, at + k), 30)));
  }
}

/**
 * What a page of the call log costs and shows (docs/BENCHMARKS.md, "The call log"): it reads at most a bounded number
 * of the window's newest calls from the narrow `byTime` index, then the page's calls by key, so a page costs at most
 * that bound whatever the window holds, and `total` beyond it is a lower bound.
 */
describe.each(storeBackends)('the call log on %s', (name, start) => {
  const db = useStoreTable(start, 'calls');
  let measured: ReturnType<typeof capacityMeter>;

  beforeAll(() => {
    measured = capacityMeter(db.dynamo);
  });

  it('counts a window it reads whole exactly, and one it does not as a lower bound, with pages up to what it read', async () => {
    // 50 calls, read 30 at most.
    const store = new DynamoCallStore(db.dynamo, 'calls', 30);
    await seed(store, 'capped', 50);
    const uuids = (calls: readonly CallRecord[]) => calls.map((c) => c.callUuid);
    const newest = (from: number, count: number) => Array.from({ length: count }, (_, k) => callUuid(from - k));

    const first = await store.page('capped', {}, { page: 1, perPage: 10 });
    expect(first.pageInfo).toEqual({ currentPage: 1, perPage: 10, lastPage: 3, total: 30, totalIsLowerBound: true });
    expect(uuids(first.data)).toEqual(newest(49, 10));
    const last = await store.page('capped', {}, { page: 3, perPage: 10 });
    expect(uuids(last.data)).toEqual(newest(29, 10));
    // Past what was read: empty, as past the last page, and still says more may exist.
    expect(await store.page('capped', {}, { page: 4, perPage: 10 })).toEqual({ data: [], pageInfo: { ...first.pageInfo, currentPage: 4 } });

    // The older calls are reached by narrowing the window: calls 0-19 fit the read, so their count is exact.
    const older = await store.page('capped', { endDate: minute(19) }, { page: 2, perPage: 15 });
    expect(older.pageInfo).toEqual({ currentPage: 2, perPage: 15, lastPage: 2, total: 20 });
    expect(uuids(older.data)).toEqual(newest(4, 5));

    // A filter counts its matches among the calls read: rooms are i % 7, so room-3 has calls 45, 38, 31 among 49-20.
    const filtered = await store.page('capped', { roomId: 'room-3' }, { page: 1, perPage: 10 });
    expect(filtered.pageInfo).toEqual({ currentPage: 1, perPage: 10, lastPage: 1, total: 4, totalIsLowerBound: true });
    expect(uuids(filtered.data)).toEqual([callUuid(45), callUuid(38), callUuid(31), callUuid(24)]);
    // A call asked for by id is read by its key, however old: exact, the window and the other filters applied.
    const oldest = callIdFor('capped-0');
    const exact = { currentPage: 1, perPage: 10, lastPage: 1 };
    const byId = await measured(() => store.page('capped', { id: oldest }, { page: 1, perPage: 10 }));
    expect({ uuids: uuids(byId.result.data), pageInfo: byId.result.pageInfo, rcu: byId.rcu }).toEqual({ uuids: [callUuid(0)], pageInfo: { ...exact, total: 1 }, rcu: 0.5 });
    expect((await store.page('capped', { id: oldest, roomId: 'room-0', startDate: minute(0), endDate: minute(0), search: '4155' }, { page: 1, perPage: 10 })).pageInfo.total).toBe(1);
    for (const miss of [{ roomId: 'room-1' }, { startDate: minute(1) }, { endDate: new Date(Date.parse(minute(0)) - 1).toISOString() }, { type: 'outbound' as const }]) {
      expect(await store.page('capped', { id: oldest, ...miss }, { page: 1, perPage: 10 })).toEqual({ data: [], pageInfo: { ...exact, total: 0 } });
    }
    expect((await store.page('capped', { id: oldest }, { page: 2, perPage: 10 })).data).toEqual([]);
    // A window that holds fewer than the limit: exact, no flag.
    expect((await store.page('capped', { startDate: minute(40), roomId: 'room-3' }, { page: 1, perPage: 10 })).pageInfo).toEqual({
      currentPage: 1,
      perPage: 10,
      lastPage: 1,
      total: 1,
    });
  }, 60_000);

  it('shows each call whole and current, as GET shows it, though the index holds only the filter fields', async () => {
    const store = new DynamoCallStore(db.dynamo, 'calls');
    const call = { ...endedCall('fresh', 0), status: 'answered' as const, endedAt: null, durationSeconds: null, hangupReason: null };
    await store.create(call, 30);
    await store.end('fresh', call.id, { endedAt: minute(1), durationSeconds: 60, hangupReason: 'caller-hangup' }, 30);
    const [listed] = (await store.page('fresh', {}, { page: 1, perPage: 10 })).data;
    expect(listed).toEqual(await store.get('fresh', call.id));
    expect(listed?.status).toBe('ended');
  });

  /** `CALL_LOG_CALLS=10000` reproduces the figures of docs/BENCHMARKS.md for 10,000 calls. */
  const CALLS = Number(process.env.CALL_LOG_CALLS ?? CALL_LOG_READ_LIMIT + 500);

  it(`costs at most the read limit, whatever the window holds (${CALLS} calls)`, async () => {
    const store = new DynamoCallStore(db.dynamo, 'calls');
    await seed(store, 'cost', CALLS);
    const first = await measured(() => store.page('cost', {}, { page: 1, perPage: 10 }));
    const deep = await measured(() => store.page('cost', {}, { page: CALL_LOG_READ_LIMIT / 10, perPage: 10 }));
    const filtered = await measured(() => store.page('cost', { roomId: 'room-3' }, { page: 1, perPage: 10 }));
    const hundred = await measured(() => store.page('cost', { startDate: minute(1000), endDate: minute(1099) }, { page: 1, perPage: 10 }));
    const full = await measured(() => store.page('cost', { startDate: minute(1000), endDate: minute(1099) }, { page: 1, perPage: 100 }));

    expect(first.result.pageInfo).toEqual({ currentPage: 1, perPage: 10, lastPage: CALL_LOG_READ_LIMIT / 10, total: CALL_LOG_READ_LIMIT, totalIsLowerBound: true });
    expect(deep.result.data.map((c) => c.callUuid)).toEqual(Array.from({ length: 10 }, (_, k) => callUuid(CALLS - CALL_LOG_READ_LIMIT + 9 - k)));
    expect(filtered.result.pageInfo.totalIsLowerBound).toBe(true);
    expect(hundred.result.pageInfo).toEqual({ currentPage: 1, perPage: 10, lastPage: 10, total: 100 });
    expect(full.result.data).toHaveLength(100);
    // The figures docs/BENCHMARKS.md cites.
    process.stderr.write(
      `call log on ${name}, ${CALLS} ended calls: unbounded page 1 ${first.rcu} RCU in ${first.requests} requests, ` +
        `page ${CALL_LOG_READ_LIMIT / 10} ${deep.rcu} RCU, roomId filter ${filtered.rcu} RCU, a window of 100 calls ${hundred.rcu} RCU in ${hundred.requests} ` +
        `(perPage=100: ${full.rcu} RCU)\n`,
    );
    // Bounded: the read limit's index entries (about 200 bytes each, half a unit per 4 KB) and the page's calls.
    expect(first.rcu).toBeLessThanOrEqual((CALL_LOG_READ_LIMIT * 250) / 8192 + 5);
    expect(deep.rcu).toBe(first.rcu);
    expect(hundred.rcu).toBeLessThan(first.rcu / 4);
  }, 300_000);
});
