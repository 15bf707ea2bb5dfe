import { DeleteItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { CountedDynamoDocumentStore, type TenantDocument } from '../../core/documents';
import { ConflictError } from '../../core/errors';
import { timeOrderedId } from '../../core/ids';
import { capacityMeter } from '../support/capacity';
import { storeBackends, useStoreTable } from '../support/store-backends';

interface Thing extends TenantDocument {
  readonly label: string;
}

/**
 * Numbered pages over DynamoDB (core/pagination.ts): a per-tenant counter and keyset walks, on dynalite and, when
 * Java is present, on Amazon's DynamoDB Local, both of which report the capacity each request consumed (the figures
 * docs/BENCHMARKS.md cites, "Page numbers").
 */
describe.each(storeBackends)('counted documents on %s', (name, start) => {
  const db = useStoreTable(start, 'counted');
  let measured: ReturnType<typeof capacityMeter>;

  beforeAll(() => {
    measured = capacityMeter(db.dynamo);
  });

  const store = (settleMs?: number, cap?: number) =>
    new CountedDynamoDocumentStore<Thing>(db.dynamo, 'counted', {
      prefix: 'TH#',
      type: 'thing',
      ...(cap !== undefined && { cap: { max: cap, message: 'full' } }),
      ...(settleMs !== undefined && { settleMs }),
    });
  const thing = (tenant: string, i: number, label = 'x'): Thing => {
    const at = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
    return { id: timeOrderedId('th_', Date.parse(at)), tenant, label, createdAt: at, updatedAt: at };
  };

  it('walks every page in order, newest first, with the total, the last page and an empty page past it', async () => {
    const things = store();
    const made: Thing[] = [];
    for (let i = 0; i < 23; i++) {
      made.push(thing('walk', i));
      await things.create(made[i] as Thing);
    }
    await things.create(thing('other-tenant', 0));
    const ids = made.map((t) => t.id).reverse();
    for (const perPage of [1, 5, 10, 23, 100]) {
      const lastPage = Math.ceil(23 / perPage);
      for (let page = 1; page <= lastPage + 1; page++) {
        const { data, pageInfo } = await things.page('walk', { page, perPage });
        expect({ perPage, page, ids: data.map((t) => t.id), pageInfo }).toEqual({
          perPage,
          page,
          ids: ids.slice((page - 1) * perPage, page * perPage),
          pageInfo: { currentPage: page, perPage, lastPage, total: 23 },
        });
      }
    }
    await things.delete('walk', ids[0] as string);
    expect((await things.page('walk', { page: 1, perPage: 10 })).pageInfo).toEqual({ currentPage: 1, perPage: 10, lastPage: 3, total: 22 });
    expect(await things.page('nobody', { page: 1, perPage: 10 })).toEqual({ data: [], pageInfo: { currentPage: 1, perPage: 10, lastPage: 1, total: 0 } });
  });

  it('costs one counter read, then one query for page 1 and two for any later page; nothing more past the last', async () => {
    const things = store();
    // Items of about 1 KB: 250 of them.
    for (let i = 0; i < 250; i++) await things.create(thing('cost', i, 'x'.repeat(1000)));
    const first = await measured(() => things.page('cost', { page: 1, perPage: 10 }));
    const deep = await measured(() => things.page('cost', { page: 20, perPage: 10 }));
    const past = await measured(() => things.page('cost', { page: 26, perPage: 10 }));
    expect([first.requests, deep.requests, past.requests]).toEqual([2, 3, 1]);
    expect(deep.result.data).toHaveLength(10);
    expect(past.result.data).toHaveLength(0);
    // The figures docs/BENCHMARKS.md cites.
    process.stderr.write(`counted pages on ${name}: page 1 ${first.rcu} RCU, page 20 of 10 (190 skipped, ~1 KB items) ${deep.rcu} RCU, past the last ${past.rcu} RCU\n`);
    if (name === 'DynamoDB Local') expect(deep.rcu).toBeGreaterThan(first.rcu * 5);
  }, 60_000);

  it('corrects a count left high by a create that died between its writes, once it has settled', async () => {
    // The counter taken, the document never written: as a crash between the two writes leaves it.
    const bump = () =>
      db.dynamo.send(
        new UpdateItemCommand({
          TableName: 'counted',
          Key: { pk: { S: 'COUNT#crash' }, sk: { S: 'thing' } },
          UpdateExpression: 'ADD n :one SET changedAt = :now',
          ExpressionAttributeValues: { ':one': { N: '1' }, ':now': { N: String(Date.now()) } },
        }),
      );
    await store().create(thing('crash', 0));
    await bump();
    // Unsettled: the walk's total is answered, the counter is left as it is (a create may be under way).
    expect((await store().page('crash', { page: 1, perPage: 10 })).pageInfo.total).toBe(1);
    expect((await store().page('crash', { page: 3, perPage: 1 })).pageInfo).toEqual({ currentPage: 3, perPage: 1, lastPage: 2, total: 2 });
    // Settled: corrected.
    expect((await store(0).page('crash', { page: 1, perPage: 10 })).pageInfo.total).toBe(1);
    expect((await store().page('crash', { page: 3, perPage: 1 })).pageInfo).toEqual({ currentPage: 3, perPage: 1, lastPage: 1, total: 1 });
  });

  it('keeps the count of a create whose put the SDK retried after it landed, and finds a low count from its last page', async () => {
    const things = store(0);
    // The put lands, its answer is lost, the SDK's retry is refused as already there: the create stands, counted.
    const doc = thing('retried', 0);
    await things.create(doc);
    await db.dynamo.send(new DeleteItemCommand({ TableName: 'counted', Key: { pk: { S: 'COUNT#retried' }, sk: { S: 'thing' } } }));
    await things.create(thing('retried', 1));
    await expect(things.create(doc)).resolves.toBeUndefined();
    // Two documents, counted 2. A count one low (as a retried create used to leave it, giving its count back):
    await db.dynamo.send(
      new UpdateItemCommand({
        TableName: 'counted',
        Key: { pk: { S: 'COUNT#retried' }, sk: { S: 'thing' } },
        UpdateExpression: 'SET n = :one, changedAt = :then',
        ExpressionAttributeValues: { ':one': { N: '1' }, ':then': { N: '0' } },
      }),
    );
    // The counted last page finds one more: both are listed, the total is counted from the items and kept.
    expect((await things.page('retried', { page: 1, perPage: 1 })).pageInfo).toEqual({ currentPage: 1, perPage: 1, lastPage: 2, total: 2 });
    expect((await things.page('retried', { page: 2, perPage: 1 })).data.map((t) => t.id)).toEqual([doc.id]);
  });

  it('holds a cap under concurrent creates, and a create at the cap recounts a settled high count', async () => {
    const capped = store(undefined, 3);
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => capped.create(thing('capped', i))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(results.filter((r) => r.status === 'rejected').every((r) => r.reason instanceof ConflictError)).toBe(true);
    const [oldest] = await capped.all('capped');
    // Deleted behind the counter's back: the count stays 3 with 2 documents.
    await new CountedDynamoDocumentStore<Thing>(db.dynamo, 'counted', { prefix: 'TH#', type: 'uncounted' }).delete('capped', oldest?.id as string);
    await expect(capped.create(thing('capped', 20))).rejects.toBeInstanceOf(ConflictError);
    await store(0, 3).create(thing('capped', 21));
    expect((await capped.page('capped', { page: 1, perPage: 10 })).pageInfo.total).toBe(3);
  });
});
