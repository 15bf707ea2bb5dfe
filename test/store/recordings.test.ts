import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { toCallView, type CallRecord } from '../../core/calls/model';
import { DynamoCallStore, MAX_CALL_RECORDINGS } from '../../core/calls/store';
import { overdue } from '../../core/dynamo';
import { newRecordingId } from '../../core/ids';
import { recordingKey, type Recording } from '../../core/recordings/model';
import { DynamoRecordingStore, recordingsOf, type RecordingEnd } from '../../core/recordings/store';
import { endedCall } from '../support/calls';
import { clientFailingConditionalDeletes, storeBackends, useStoreTable } from '../support/store-backends';

const TABLE = 'recordings';
let startMs = Date.now();

/** A new recording (`recording`) of `roomId`'s session `sessionId`, written by `serverId`; its id newer than the last one's. */
function recording(fields: Partial<Recording> & { tenant: string; roomId: string }): Recording {
  const start = new Date(++startMs).toISOString();
  const id = newRecordingId(startMs);
  const sessionId = fields.sessionId ?? 'ss_session';
  return {
    id,
    kind: 'room',
    customRoomId: null,
    sessionId,
    callId: null,
    status: 'recording',
    start,
    end: null,
    reason: null,
    format: { format: 'wav', channels: 1, sampleRate: 16000 },
    region: 'us002',
    awsRegion: 'us-east-1',
    bucket: 'recordings',
    key: recordingKey(fields.tenant, fields.roomId, sessionId, id),
    serverId: 'media-1',
    webhookUrl: null,
    size: null,
    duration: null,
    ...fields,
  };
}

const completed = (end: string): RecordingEnd => ({ status: 'completed', end, reason: null, size: 32_044, duration: 1 });

/**
 * Recording records (core/recordings/store.ts) on every store backend: one room recording per room at a time (its
 * lock), a call recording beside it, a finish recorded once, listings newest first with filters, a delete that waits
 * for the end, the records a dead server left, each tenant seeing only its own.
 */
describe.each(storeBackends)('recordings on %s', (name, start) => {
  const db = useStoreTable(start, TABLE);
  let store: DynamoRecordingStore;

  beforeAll(() => {
    store = new DynamoRecordingStore(db.dynamo, TABLE);
  });

  it(`${name}: one room recording per room at a time, a call recording beside it; the lock is free again once it finishes, once`, async () => {
    let first = recording({ tenant: 'acme', roomId: 'lock-lock-0001', customRoomId: 'front-desk', webhookUrl: 'https://hooks.example.com/rec' });
    expect(await store.create(first, 30)).toBe(true);
    expect(await store.get('acme', first.id)).toEqual(first);
    expect(await store.active('acme', first.roomId)).toEqual(first);
    // The room is recording: a second room recording is refused, nothing of it written.
    const second = recording({ tenant: 'acme', roomId: first.roomId });
    expect(await store.create(second, 30)).toBe(false);
    expect(await store.get('acme', second.id)).toBeNull();
    // A call's recording takes no lock.
    const call = recording({ tenant: 'acme', roomId: first.roomId, kind: 'call', callId: 'call_1', format: { format: 'wav', channels: 2, sampleRate: 8000 } });
    expect(await store.create(call, 30)).toBe(true);
    expect(await store.get('acme', call.id)).toEqual(call);
    expect(await store.active('acme', first.roomId)).toEqual(first);
    // Another tenant's room of the same id is its own.
    const other = recording({ tenant: 'globex', roomId: first.roomId });
    expect(await store.create(other, 30)).toBe(true);
    expect(await store.active('globex', first.roomId)).toEqual(other);

    const began = new Date(startMs + 50).toISOString();
    expect(await store.began('acme', first.id, began, { format: 'wav', channels: 1, sampleRate: 48000 })).toEqual({ ...first, start: began, format: { format: 'wav', channels: 1, sampleRate: 48000 } });
    first = { ...first, format: { format: 'wav', channels: 1, sampleRate: 48000 } };
    const end = new Date(startMs + 1_050).toISOString();
    expect(await store.finish('acme', first.id, completed(end))).toEqual({ ...first, start: began, status: 'completed', end, size: 32_044, duration: 1 });
    // Once: a second finish (the sweeper after the server, say) changes nothing, nor does a late `began`.
    expect(await store.finish('acme', first.id, { status: 'partial', end, reason: 'media server stopped', size: null, duration: null })).toBeNull();
    expect(await store.began('acme', first.id, end)).toBeNull();
    expect(await store.get('acme', first.id)).toMatchObject({ status: 'completed', reason: null, size: 32_044 });
    expect(await store.active('acme', first.roomId)).toBeNull();
    expect(await store.active('globex', first.roomId)).toEqual(other);
    // The room records again.
    const third = recording({ tenant: 'acme', roomId: first.roomId });
    expect(await store.create(third, 30)).toBe(true);
    expect(await store.active('acme', first.roomId)).toEqual(third);
    expect(await store.finish('acme', third.id, { status: 'failed', end, reason: 'no audio', size: null, duration: null })).toMatchObject({ status: 'failed', reason: 'no audio', size: null, duration: null });
    // Another tenant cannot finish or begin it.
    expect(await store.finish('acme', other.id, completed(end))).toBeNull();
    expect(await store.get('globex', other.id)).toMatchObject({ status: 'recording' });
  });

  it(`${name}: a lock its recording's finish could not remove is taken over by the room's next recording`, async () => {
    const stale = recording({ tenant: 'acme', roomId: 'lock-stal-0001' });
    await store.create(stale, 30);
    const failing = clientFailingConditionalDeletes(db.endpoint);
    try {
      expect(await new DynamoRecordingStore(failing, TABLE).finish('acme', stale.id, completed(new Date().toISOString()))).toMatchObject({ status: 'completed' });
    } finally {
      failing.destroy();
    }
    expect(await store.active('acme', stale.roomId)).toBeNull();
    const next = recording({ tenant: 'acme', roomId: stale.roomId });
    expect(await store.create(next, 30)).toBe(true);
    expect(await store.active('acme', stale.roomId)).toEqual(next);
    expect(await store.create(recording({ tenant: 'acme', roomId: stale.roomId }), 30)).toBe(false);
  });

  it(`${name}: lists newest first, paged, by room and by session; another tenant sees none`, async () => {
    const made: Recording[] = [];
    for (const [roomId, sessionId] of [['list-room-0001', 'ss_a'], ['list-room-0001', 'ss_b'], ['list-room-0002', 'ss_c'], ['list-room-0001', 'ss_b']] as const) {
      const made1 = recording({ tenant: 'lister', roomId, sessionId, kind: 'call', callId: `call_${made.length}` });
      await store.create(made1, 30);
      made.push(made1);
    }
    const ids = (list: readonly Recording[]) => list.map((r) => r.id);
    const all = await store.page('lister', {}, { page: 1, perPage: 3 });
    expect(all.pageInfo).toEqual({ currentPage: 1, perPage: 3, lastPage: 2, total: 4 });
    expect(ids(all.data)).toEqual(ids(made.slice(1).reverse()));
    expect(ids((await store.page('lister', {}, { page: 2, perPage: 3 })).data)).toEqual([made[0]?.id]);
    expect(ids((await store.page('lister', { roomId: 'list-room-0001' }, { page: 1, perPage: 10 })).data)).toEqual(ids([made[3], made[1], made[0]] as Recording[]));
    expect(ids((await store.page('lister', { sessionId: 'ss_b' }, { page: 1, perPage: 10 })).data)).toEqual(ids([made[3], made[1]] as Recording[]));
    expect(ids((await store.page('lister', { roomId: 'list-room-0002', sessionId: 'ss_b' }, { page: 1, perPage: 10 })).data)).toEqual([]);
    expect((await store.page('someone-else', {}, { page: 1, perPage: 10 })).data).toEqual([]);
    expect(await store.get('someone-else', made[0]?.id ?? '')).toBeNull();
    // At most `readLimit` are read: the total beyond is a lower bound.
    const capped = await new DynamoRecordingStore(db.dynamo, TABLE, 2).page('lister', {}, { page: 1, perPage: 10 });
    expect(capped.pageInfo).toEqual({ currentPage: 1, perPage: 10, lastPage: 1, total: 2, totalIsLowerBound: true });
  });

  it(`${name}: a delete waits for the end, and is another tenant's no more than its own`, async () => {
    const rec = recording({ tenant: 'acme', roomId: 'dele-tion-0001' });
    await store.create(rec, 30);
    expect(await store.delete('acme', rec.id)).toBe(false);
    expect(await store.get('acme', rec.id)).not.toBeNull();
    await store.finish('acme', rec.id, completed(new Date().toISOString()));
    expect(await store.delete('globex', rec.id)).toBe(false);
    expect(await store.delete('acme', rec.id)).toBe(true);
    expect(await store.get('acme', rec.id)).toBeNull();
    expect(await store.delete('acme', rec.id)).toBe(false);
  });

  it(`${name}: a call names its recordings (additionalDetails.recordings), oldest first, at most MAX_CALL_RECORDINGS; another tenant's call none`, async () => {
    const calls = new DynamoCallStore(db.dynamo, TABLE);
    const call = endedCall('acme', 1);
    await calls.create(call, 30);
    expect(toCallView(call).additionalDetails.recordings).toEqual([]);
    const ids = [newRecordingId(), newRecordingId()];
    for (const id of ids) expect(await calls.addRecording('acme', call.id, id)).toBe(true);
    expect(toCallView((await calls.get('acme', call.id)) as CallRecord).additionalDetails.recordings).toEqual(ids);
    expect(await calls.addRecording('globex', call.id, newRecordingId())).toBe(false);
    expect(await calls.get('globex', call.id)).toBeNull();
    expect(await calls.addRecording('acme', 'call_nosuchcall', newRecordingId())).toBe(false);
    for (let i = ids.length; i < MAX_CALL_RECORDINGS; i++) expect(await calls.addRecording('acme', call.id, newRecordingId())).toBe(true);
    expect(await calls.addRecording('acme', call.id, newRecordingId())).toBe(false);
    expect((await calls.get('acme', call.id))?.recordings).toHaveLength(MAX_CALL_RECORDINGS);
  });

  it(`${name}: the recordings a server left recording are listed under it until they finish; TTL from the retention`, async () => {
    const server = `media-dead-${name.replace(/\W/g, '')}`;
    const room = recording({ tenant: 'acme', roomId: 'left-behi-0001', serverId: server });
    const call = recording({ tenant: 'globex', roomId: 'left-behi-0002', serverId: server, kind: 'call', callId: 'call_9', format: { format: 'wav', channels: 2, sampleRate: 8000 } });
    const elsewhere = recording({ tenant: 'acme', roomId: 'left-behi-0003', serverId: 'media-alive' });
    for (const rec of [room, call, elsewhere]) await store.create(rec, 7);
    expect((await store.leftBehind(server)).map((r) => r.id).sort()).toEqual([room.id, call.id].sort());
    await store.finish('acme', room.id, { status: 'partial', end: new Date().toISOString(), reason: 'media server stopped', size: 16_044, duration: 0.5 });
    expect(await store.leftBehind(server)).toEqual([call]);
    expect((await overdue(db.dynamo, TABLE, recordingsOf(server), new Date('9999-01-01'), 10)).keys).toHaveLength(1);
    expect(await store.leftBehind('media-nobody')).toEqual([]);
    const { Item } = await db.dynamo.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'T#globex' }, sk: { S: `REC#${call.id}` } } }));
    expect(Number(Item?.expiresAt?.N)).toBe(Math.floor(Date.parse(call.start) / 1000) + 7 * 86400);
  });
});
