import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../../core/aws';
import { callIdFor, type CallRecord } from '../../core/calls/model';
import { DynamoCallStore } from '../../core/calls/store';
import { ensureControlTable } from '../../local/aws';
import { capacityMeter } from '../support/capacity';
import { storeBackends, type Backend } from '../support/store-backends';

/**
 * What a page of the call log costs (docs/BENCHMARKS.md, "The call log"): the walk reads every call of the date
 * window from the `byTime` index, so a page costs what the window's calls weigh, whatever its number and filters.
 */
describe.each(storeBackends)('the call log on %s', (name, start) => {
  let backend: Backend;
  let dynamo: DynamoDBClient;
  let measured: ReturnType<typeof capacityMeter>;
  const BASE = Date.parse('2026-01-01T00:00:00.000Z');
  const CALLS = 500;

  beforeAll(async () => {
    backend = await start();
    dynamo = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: backend.endpoint });
    measured = capacityMeter(dynamo);
    await ensureControlTable(dynamo, 'calls');
  }, 60_000);
  afterAll(async () => {
    dynamo.destroy();
    await backend.stop();
  });

  it('costs the calls of the date window, one query per MB of them, at any page number', async () => {
    const store = new DynamoCallStore(dynamo, 'calls');
    // Ended calls as the media server leaves them: three timelog entries, an answer, a hangup reason.
    for (let i = 0; i < CALLS; i++) {
      const at = (s: number) => new Date(BASE + i * 60_000 + s * 1000).toISOString();
      const record: CallRecord = {
        id: callIdFor(`cost-${i}`),
        tenant: 'cost',
        type: 'inbound',
        callUuid: `5e3f7c1a-0000-4000-8000-${String(i).padStart(12, '0')}`,
        provider: 'plivo',
        connectorId: 'cn_1m7zrqp6tevwckb1',
        ruleId: 'rr_1m7zrqp6tevwckb2',
        roomId: `room-${i % 7}`,
        region: 'us002',
        from: '+14155550100',
        to: '+14155550111',
        hidePhoneNumber: false,
        status: 'ended',
        timelog: [
          { status: 'incoming', at: at(0) },
          { status: 'answered', at: at(1) },
          { status: 'ended', at: at(40) },
        ],
        startedAt: at(0),
        answeredAt: at(1),
        endedAt: at(40),
        durationSeconds: 39,
        hangupReason: 'caller-hangup',
        hangupCause: null,
        agentStatus: null,
        stream: null,
        claimRef: null,
        metadata: {},
      };
      await store.create(record, 30);
    }
    const first = await measured(() => store.page('cost', {}, { page: 1, perPage: 10 }));
    const deep = await measured(() => store.page('cost', {}, { page: 40, perPage: 10 }));
    const filtered = await measured(() => store.page('cost', { roomId: 'room-3' }, { page: 1, perPage: 10 }));
    const hour = await measured(() =>
      store.page('cost', { startDate: new Date(BASE + 100 * 60_000).toISOString(), endDate: new Date(BASE + 159 * 60_000).toISOString() }, { page: 1, perPage: 10 }),
    );
    expect(first.result.pageInfo.total).toBe(CALLS);
    expect(deep.result.data.map((c) => c.callUuid)).toEqual(Array.from({ length: 10 }, (_, k) => `5e3f7c1a-0000-4000-8000-${String(CALLS - 391 - k).padStart(12, '0')}`));
    expect(filtered.result.pageInfo.total).toBe(71);
    expect(hour.result.pageInfo.total).toBe(60);
    // The figures docs/BENCHMARKS.md cites.
    process.stderr.write(
      `call log on ${name}, ${CALLS} ended calls: page 1 ${first.rcu} RCU in ${first.requests} requests, page 40 ${deep.rcu} RCU, ` +
        `roomId filter ${filtered.rcu} RCU, one hour (60 calls) ${hour.rcu} RCU in ${hour.requests}\n`,
    );
    expect(deep.rcu).toBe(first.rcu);
    expect(hour.rcu).toBeLessThan(first.rcu / 4);
  }, 120_000);
});
