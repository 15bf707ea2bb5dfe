import { toCallView } from '../../core/calls/model';
import { deliveryIdFor } from '../../core/ids';
import type { Delivery, DeliveryStatus } from '../../core/webhooks/model';
import { DELIVERY_LIST_READ_LIMIT, DeliveryStore } from '../../core/webhooks/store';
import { CALLS_FROM, endedCall } from '../support/calls';
import { capacityMeter } from '../support/capacity';
import { storeBackends, useStoreTable } from '../support/store-backends';

const BASE = Date.parse(CALLS_FROM);
const WEBHOOK = 'wh_1m7zrqp6tevwckb3';
const STATUSES: readonly DeliveryStatus[] = ['delivered', 'delivered', 'failed', 'pending'];

/** The `i`th delivery of the webhook, as the delivery Lambda leaves it: the signed body of a `call-hangup`, attempts. */
function delivery(tenant: string, i: number): Delivery {
  const at = new Date(BASE + i * 60_000).toISOString();
  const call = endedCall(tenant, i);
  const status = STATUSES[i % STATUSES.length] as DeliveryStatus;
  return {
    id: deliveryIdFor(call.id, 'call-hangup', WEBHOOK, BASE + i * 60_000),
    tenant,
    webhookId: WEBHOOK,
    event: 'call-hangup',
    callId: call.id,
    status,
    body: JSON.stringify({ webhookType: 'call-hangup', data: toCallView(call), timestamp: at }),
    attempts: [{ at, durationMs: 42, statusCode: status === 'failed' ? 500 : 200, error: null }],
    cycleAttempts: 1,
    createdAt: at,
    updatedAt: at,
    nextAttemptAt: null,
  };
}

async function seed(store: DeliveryStore, tenant: string, count: number): Promise<void> {
  for (let at = 0; at < count; at += 50) await store.createAll(Array.from({ length: Math.min(50, count - at) }, (_, k) => delivery(tenant, at + k)));
}

/** What a page of a webhook's deliveries costs and shows (docs/BENCHMARKS.md, "Webhook deliveries"). */
describe.each(storeBackends)("a webhook's deliveries on %s", (name, start) => {
  const db = useStoreTable(start, 'deliveries');
  let measured: ReturnType<typeof capacityMeter>;
  // Long enough that the fixtures, dated from CALLS_FROM, are all within it.
  const options = { retentionDays: 3650, redriveAfterSeconds: 900 };

  beforeAll(() => {
    measured = capacityMeter(db.dynamo);
  });

  it('reads a delivery past its retention as gone, before TTL has removed it', async () => {
    const store = new DeliveryStore(db.dynamo, 'deliveries', { ...options, retentionDays: 1 });
    const old = delivery('expired', 0);
    const now = new Date().toISOString();
    const fresh = { ...delivery('expired', 1), createdAt: now, updatedAt: now };
    await store.createAll([old, fresh]);
    const ref = (d: Delivery) => ({ tenant: d.tenant, webhookId: d.webhookId, deliveryId: d.id });
    expect(await store.get(ref(old))).toBeNull();
    expect(await store.get(ref(fresh))).toEqual(fresh);
    expect((await store.page('expired', WEBHOOK, undefined, { page: 1, perPage: 10 })).data).toEqual([fresh]);
  });

  it('pages by number, exactly while it reads them all, as a lower bound past its read limit', async () => {
    const ids = (page: { data: readonly Delivery[] }) => page.data.map((d) => d.id);
    const newest = (tenant: string, from: number, count: number, step = 1) => Array.from({ length: count }, (_, k) => delivery(tenant, from - k * step).id);
    const all = new DeliveryStore(db.dynamo, 'deliveries', options);
    await seed(all, 'small', 12);
    expect(await all.page('small', WEBHOOK, undefined, { page: 2, perPage: 5 })).toEqual({
      data: [5, 4, 3, 2, 1].map((k) => delivery('small', k + 1)),
      pageInfo: { currentPage: 2, perPage: 5, lastPage: 3, total: 12 },
    });
    // Statuses go delivered, delivered, failed, pending: failed are 10, 6, 2.
    const failed = await all.page('small', WEBHOOK, 'failed', { page: 1, perPage: 10 });
    expect(failed.pageInfo).toEqual({ currentPage: 1, perPage: 10, lastPage: 1, total: 3 });
    expect(ids(failed)).toEqual(newest('small', 10, 3, 4));
    expect((await all.page('small', WEBHOOK, undefined, { page: 4, perPage: 5 })).data).toEqual([]);
    expect((await all.page('small', 'wh_0000000000000000', undefined, { page: 1, perPage: 5 })).pageInfo.total).toBe(0);

    const capped = new DeliveryStore(db.dynamo, 'deliveries', { ...options, readLimit: 20 });
    await seed(capped, 'large', 30);
    const first = await capped.page('large', WEBHOOK, undefined, { page: 2, perPage: 10 });
    expect(first.pageInfo).toEqual({ currentPage: 2, perPage: 10, lastPage: 2, total: 20, totalIsLowerBound: true });
    expect(ids(first)).toEqual(newest('large', 19, 10));
    expect((await capped.page('large', WEBHOOK, undefined, { page: 3, perPage: 10 })).data).toEqual([]);
    // The failed among the newest 20 (29-10): 26, 22, 18, 14, 10.
    const olderFailed = await capped.page('large', WEBHOOK, 'failed', { page: 1, perPage: 10 });
    expect(olderFailed.pageInfo).toEqual({ currentPage: 1, perPage: 10, lastPage: 1, total: 5, totalIsLowerBound: true });
    expect(ids(olderFailed)).toEqual(newest('large', 26, 5, 4));
  });

  it(`costs at most the read limit, whatever the webhook delivered (${DELIVERY_LIST_READ_LIMIT + 100} deliveries)`, async () => {
    const store = new DeliveryStore(db.dynamo, 'deliveries', options);
    await seed(store, 'cost', DELIVERY_LIST_READ_LIMIT + 100);
    const first = await measured(() => store.page('cost', WEBHOOK, undefined, { page: 1, perPage: 10 }));
    const failed = await measured(() => store.page('cost', WEBHOOK, 'failed', { page: 3, perPage: 10 }));
    const small = await measured(() => store.page('small', WEBHOOK, undefined, { page: 1, perPage: 10 }));
    const size = Buffer.byteLength(JSON.stringify(delivery('cost', 0)));
    process.stderr.write(
      `deliveries on ${name}, ${DELIVERY_LIST_READ_LIMIT + 100} of about ${size} bytes: page 1 ${first.rcu} RCU in ${first.requests} requests, ` +
        `status=failed page 3 ${failed.rcu} RCU; a webhook with 12: ${small.rcu} RCU\n`,
    );
    expect(first.result.pageInfo).toEqual({ currentPage: 1, perPage: 10, lastPage: DELIVERY_LIST_READ_LIMIT / 10, total: DELIVERY_LIST_READ_LIMIT, totalIsLowerBound: true });
    expect(failed.rcu).toBe(first.rcu);
    // Half a unit per 4 KB of the deliveries read: at most about 1 MB, one round trip.
    expect(first.rcu).toBeLessThanOrEqual(128);
    expect(first.requests).toBe(1);
  }, 120_000);
});
