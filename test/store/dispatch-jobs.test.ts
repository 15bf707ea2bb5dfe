import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DISPATCH_TIMEOUT_MS, DynamoDispatchJobStore, toDispatchJobView, type DispatchJob } from '../../core/agents/dispatch';
import { dynamoClient } from '../../core/aws';
import { newDispatchJobId } from '../../core/ids';
import { SETTLE_ATTEMPTS, settleJob } from '../../ingest-container/src/calls/dispatch';
import { memoryLog } from '../support/stack';
import { storeBackends, useStoreTable } from '../support/store-backends';

/** Agent dispatch jobs (core/agents/dispatch.ts): one outcome each, never after their deadline; a lapsed pending job reads as failed. */
describe.each(storeBackends)('dispatch jobs on %s', (name, start) => {
  const db = useStoreTable(start, 'jobs');
  let store: DynamoDispatchJobStore;

  const job = (deadlineMs = Date.now() + DISPATCH_TIMEOUT_MS): DispatchJob => {
    const now = new Date().toISOString();
    return { id: newDispatchJobId(), tenant: 't1', agentId: 'ag_0000000000000000', roomId: 'r1', status: 'pending', deadlineMs, createdAt: now, updatedAt: now };
  };

  beforeAll(() => {
    store = new DynamoDispatchJobStore(db.dynamo, 'jobs', 30);
  });

  it(`${name}: takes one outcome, the first; expires with the call records`, async () => {
    const pending = job();
    await store.create(pending);
    expect(await store.settle('t1', pending.id, { status: 'dispatched', participantId: 'ag_abc' })).toBe(true);
    expect(await store.settle('t1', pending.id, { status: 'failed', reason: 'unreachable' })).toBe(false);
    const settled = await store.get('t1', pending.id);
    expect(settled).toMatchObject({ status: 'dispatched', participantId: 'ag_abc' });
    expect(toDispatchJobView(settled as DispatchJob)).not.toHaveProperty('reason');
    const { Item } = await db.dynamo.send(new GetItemCommand({ TableName: 'jobs', Key: { pk: { S: 'T#t1' }, sk: { S: `DISPATCH#${pending.id}` } } }));
    expect(Number(Item?.expiresAt?.N)).toBe(Math.ceil(Date.parse(pending.createdAt) / 1000) + 30 * 86400);
  });

  it(`${name}: a job past its deadline takes no outcome, and reads as failed (timeout); another tenant's is not found`, async () => {
    const lapsed = job(Date.now() - 1);
    await store.create(lapsed);
    expect(await store.settle('t1', lapsed.id, { status: 'dispatched', participantId: 'ag_abc' })).toBe(false);
    expect(toDispatchJobView((await store.get('t1', lapsed.id)) as DispatchJob)).toMatchObject({ jobId: lapsed.id, status: 'failed', reason: 'timeout' });
    expect(toDispatchJobView(job(Date.now() + 1000))).toMatchObject({ status: 'pending' });
    expect(await store.get('t2', lapsed.id)).toBeNull();
    expect(await store.settle('t2', lapsed.id, { status: 'failed', reason: 'expired' })).toBe(false);
  });

  it(`${name}: a dispatch's outcome is retried while DynamoDB fails its write, told apart from a job that refuses it`, async () => {
    const flaky = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: db.endpoint });
    try {
      // Fails the next `failing` writes: before sending them, or (`landed`) after the write landed, its answer lost.
      const fault = { failing: 0, landed: false };
      flaky.middlewareStack.add(
        (next) => async (args) => {
          if (!('UpdateExpression' in args.input) || fault.failing === 0) return next(args);
          fault.failing--;
          if (fault.landed) await next(args);
          throw Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ThrottlingException' });
        },
        { step: 'initialize' },
      );
      const jobs = new DynamoDispatchJobStore(flaky, 'jobs', 30);
      const log = memoryLog();
      const dispatched = { status: 'dispatched', participantId: 'ag_abc' } as const;

      const throttled = job();
      await store.create(throttled);
      fault.failing = SETTLE_ATTEMPTS - 1;
      expect(await settleJob(jobs, 't1', throttled.id, dispatched, log.logger)).toBe('recorded');
      expect(await store.get('t1', throttled.id)).toMatchObject(dispatched);

      const lost = job();
      await store.create(lost);
      Object.assign(fault, { failing: 1, landed: true });
      expect(await settleJob(jobs, 't1', lost.id, dispatched, log.logger)).toBe('recorded');

      const down = job();
      await store.create(down);
      Object.assign(fault, { failing: SETTLE_ATTEMPTS, landed: false });
      expect(await settleJob(jobs, 't1', down.id, dispatched, log.logger)).toBe('unwritten');
      expect(fault.failing).toBe(0);
      expect(await store.get('t1', down.id)).toMatchObject({ status: 'pending' });

      const lapsed = job(Date.now() - 1);
      await store.create(lapsed);
      expect(await settleJob(jobs, 't1', lapsed.id, dispatched, log.logger)).toBe('refused');
      expect(await settleJob(jobs, 't1', throttled.id, { status: 'failed', reason: 'unreachable' }, log.logger)).toBe('refused');
      const logged = log.lines.map((line) => JSON.parse(line) as { msg: string });
      expect(logged.filter((line) => line.msg.startsWith('could not record the agent dispatch outcome: trying again'))).toHaveLength(SETTLE_ATTEMPTS - 1 + 1 + SETTLE_ATTEMPTS - 1);
      expect(logged.filter((line) => line.msg === 'could not record the agent dispatch outcome: giving up')).toHaveLength(1);
    } finally {
      flaky.destroy();
    }
  });
});
