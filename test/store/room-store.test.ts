import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createLogger } from '../../core/log';
import type { Room } from '../../core/room-records/model';
import { RoomNames } from '../../core/room-records/service';
import { DynamoRoomStore } from '../../core/room-records/store';
import { storeBackends, useStoreTable } from '../support/store-backends';

/** Room records and the names they are found by (core/room-records/store.ts), on every store backend. */
describe.each(storeBackends)('room records on %s', (name, start) => {
  const db = useStoreTable(start, 'rooms');
  let store: DynamoRoomStore;
  const room = (tenant: string, id: string, fields: Partial<Room> = {}): Room => ({
    id,
    tenant,
    roomId: 'abcd-efgh-ijkl',
    customRoomId: null,
    disabled: false,
    createdAt: '2026-12-04T00:00:00.000Z',
    updatedAt: '2026-12-04T00:00:00.000Z',
    ...fields,
  });

  beforeAll(() => {
    store = new DynamoRoomStore(db.dynamo, 'rooms');
  });

  it(`${name}: one room per name however many first uses race; found by either name, counted once`, async () => {
    const names = new RoomNames(store, createLogger('error'));
    const rooms = await Promise.all(Array.from({ length: 10 }, () => names.joined('race', 'front-desk')));
    expect(new Set(rooms.map((r) => r.id)).size).toBe(1);
    const [first] = rooms as [Room];
    expect(first).toMatchObject({ customRoomId: 'front-desk', disabled: false });
    expect(await store.byName('race', first.roomId)).toEqual(first);
    expect(await store.get('race', first.id)).toEqual(first);
    expect((await store.page('race', { page: 1, perPage: 10 })).pageInfo.total).toBe(1);
    expect(await store.byName('other-tenant', 'front-desk')).toBeNull();
  });

  it(`${name}: a create that died after taking the name is finished by the next lookup of it`, async () => {
    const orphan = room('crash', 'rm_0000000000000001', { roomId: 'wxyz-0000-1111', customRoomId: 'half-made' });
    // What a create leaves when it dies between its first write (the name) and the record.
    await db.dynamo.send(
      new PutItemCommand({
        TableName: 'rooms',
        Item: {
          pk: { S: 'T#crash' },
          sk: { S: 'RMN#half-made' },
          type: { S: 'room-name' },
          id: { S: orphan.id },
          tenant: { S: 'crash' },
          createdAt: { S: orphan.createdAt },
          updatedAt: { S: orphan.updatedAt },
          body: { S: JSON.stringify({ roomId: orphan.roomId, customRoomId: 'half-made', disabled: false }) },
        },
      }),
    );
    expect(await store.get('crash', orphan.id)).toBeNull();
    expect(await store.byName('crash', 'half-made')).toEqual(orphan);
    expect(await store.get('crash', orphan.id)).toEqual(orphan);
    expect(await store.byName('crash', orphan.roomId)).toEqual(orphan);
    expect((await store.page('crash', { page: 1, perPage: 10 })).data).toEqual([orphan]);
  });

  it(`${name}: disabling writes every name's copy, which a join reads alone`, async () => {
    const names = new RoomNames(store, createLogger('error'));
    const created = await names.joined('disable', 'two-names');
    expect(await store.named('disable', created.roomId)).toMatchObject({ id: created.id, disabled: false });
    await store.disable(created);
    for (const name of ['two-names', created.roomId]) expect(await store.named('disable', name)).toEqual({ ...created, disabled: true });
    expect(await names.joined('disable', created.roomId)).toMatchObject({ id: created.id, disabled: true });
  });

  it(`${name}: a name already held is not claimed again, and a replaced record is what lookups answer`, async () => {
    const held = room('claims', 'rm_0000000000000002', { roomId: 'aaaa-bbbb-cccc' });
    expect(await store.claim(held)).toBe(true);
    expect(await store.claim({ ...held, id: 'rm_0000000000000003' })).toBe(false);
    const disabled = { ...held, disabled: true, updatedAt: '2026-12-04T00:00:01.000Z' };
    expect(await store.replace(disabled, held.updatedAt)).toBe(true);
    expect(await store.replace(disabled, held.updatedAt)).toBe(false);
    expect(await store.byName('claims', 'aaaa-bbbb-cccc')).toEqual(disabled);
  });
});
