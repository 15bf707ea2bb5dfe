import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { CallRecord } from '../../core/calls/model';
import { DynamoCallStore, type PendingEvent } from '../../core/calls/store';
import { TABLE_KEYS } from '../../core/dynamo';
import { callEvent, type CallEventType } from '../../core/events';
import { endedCall } from '../support/calls';
import { storeBackends, useStoreTable } from '../support/store-backends';

const TENANT = 'outbox';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
/** `s` seconds into the test call. */
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

/** The `i`th test call, still waiting for its stream, created as the Answer URL does (its `call-started` outboxed when `outbox`). */
async function incomingCall(store: DynamoCallStore, i: number, outbox: boolean): Promise<CallRecord> {
  const call: CallRecord = { ...endedCall(TENANT, i), status: 'incoming', timelog: [{ status: 'incoming', at: at(0) }], startedAt: at(0), answeredAt: null, endedAt: null, durationSeconds: null, hangupReason: null };
  expect(await store.create(call, 1, undefined, outbox)).toBe(true);
  return call;
}

/** A write's result, which the test needs: the write landed. */
function landed(call: CallRecord | null): CallRecord {
  expect(call).not.toBeNull();
  return call as CallRecord;
}

/**
 * Two changes of one type, each outboxed, with nothing recorded between them: what the call's writers do (the other
 * changes they need on the way are not outboxed). Answers the records the two outboxing writes returned.
 */
const SAME_TYPE_TWICE: [string, CallEventType, readonly [string, string], (store: DynamoCallStore, call: CallRecord) => Promise<CallRecord[]>][] = [
  [
    'answered again after a failed transfer (a move)',
    'call-answered',
    [at(1), at(4)],
    async (store, { id }) => {
      const first = landed(await store.answer(TENANT, id, at(1), 'server-1'));
      landed(await store.transferStep(TENANT, id, 'transfer-initiated', at(2), false));
      landed(await store.transferStep(TENANT, id, 'transfer-failed', at(3), false));
      return [first, landed(await store.answer(TENANT, id, at(4), 'server-1'))];
    },
  ],
  [
    'two stream reports',
    'call-update',
    [at(2), at(3)],
    async (store, { id, callUuid }) => {
      landed(await store.answer(TENANT, id, at(1), 'server-1', false));
      const report = (kind: 'degraded' | 'dropped', s: number) => store.streamReport(TENANT, id, callUuid as string, { kind, streamId: 'stream-1', key: `${kind}-${s}`, at: at(s) });
      return [landed(await report('degraded', 2)), landed(await report('dropped', 3))];
    },
  ],
  [
    'switched twice',
    'switch-room-completed',
    [at(3), at(5)],
    async (store, { id, roomId }) => {
      landed(await store.answer(TENANT, id, at(1), 'server-1', false));
      const room = roomId as string;
      const move = (event: 'switch-room-initiated' | 'switch-room-completed', from: string, to: string, s: number, switchId: string) =>
        store.switchRoom(TENANT, id, { event, from, to, at: at(s) }, switchId, event === 'switch-room-completed');
      landed(await move('switch-room-initiated', room, 'room-b', 2, 'cmd-1'));
      const first = landed(await move('switch-room-completed', room, 'room-b', 3, 'cmd-1'));
      landed(await move('switch-room-initiated', 'room-b', room, 4, 'cmd-2'));
      return [first, landed(await move('switch-room-completed', 'room-b', room, 5, 'cmd-2'))];
    },
  ],
];

/**
 * A call's outbox names each change whose event is not recorded yet (its type and time), so two changes of one type
 * (a call switched twice, answered again after a failed transfer, two stream reports) both wait, and the publish of
 * one takes out that one alone: a crash (or a failed publish) between them loses neither (docs/webhooks.md).
 */
describe.each(storeBackends)('the call outbox on %s', (_name, start) => {
  const db = useStoreTable(start, 'calls');
  let store: DynamoCallStore;

  beforeAll(() => {
    store = new DynamoCallStore(db.dynamo, 'calls');
  });

  const pending = async (id: string) => (await store.pendingEvents(TENANT, id))?.events;
  const inOutboxIndex = async (id: string) =>
    (await db.dynamo.send(new GetItemCommand({ TableName: 'calls', Key: { pk: { S: `T#${TENANT}` }, sk: { S: `CALL#${id}` } }, ConsistentRead: true }))).Item?.[TABLE_KEYS.outbox.partitionKey] !== undefined;

  it('names a created call\'s change by its first timelog entry, which its published event records', async () => {
    const call = await incomingCall(store, 0, true);
    expect(await pending(call.id)).toEqual([{ type: 'call-started', at: at(0) }]);
    const event = callEvent('call-started', call);
    await store.eventRecorded(TENANT, call.id, { type: event.type, at: event.timestamp });
    expect(await pending(call.id)).toEqual([]);
    expect(await inOutboxIndex(call.id)).toBe(false);
  });

  it.each(SAME_TYPE_TWICE.map((c, i) => [...c, i + 1] as const))('%s: both changes wait, and recording one leaves the other', async (_, type, [firstAt, secondAt], changeTwice, i) => {
    const call = await incomingCall(store, i, false);
    const writes = await changeTwice(store, call);
    const first: PendingEvent = { type, at: firstAt };
    const second: PendingEvent = { type, at: secondAt };
    expect(await pending(call.id)).toEqual([first, second]);
    // Each write's own event (what its writer publishes, then records) names its change.
    const [firstEvent, secondEvent] = writes.map((record) => callEvent(type, record));
    expect([firstEvent?.timestamp, secondEvent?.timestamp]).toEqual([firstAt, secondAt]);

    // The first change's publish got through only after the second write: it records its own change alone.
    await store.eventRecorded(TENANT, call.id, first);
    expect(await pending(call.id)).toEqual([second]);
    expect(await inOutboxIndex(call.id)).toBe(true);
    await store.eventRecorded(TENANT, call.id, second);
    expect(await pending(call.id)).toEqual([]);
    expect(await inOutboxIndex(call.id)).toBe(false);
  });
});
