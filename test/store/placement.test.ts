import { PlacementStore, type MediaServerRecord } from '../../core/placement';
import { startDynaliteBackend, useStoreTable } from '../support/store-backends';

/** Room placement leases and media-server records, against the embedded DynamoDB (dynalite). */
const db = useStoreTable(startDynaliteBackend, 'placement');
let store: PlacementStore;

beforeAll(() => {
  store = new PlacementStore(db.dynamo, 'placement');
});

const NOW = Date.now();
const server = (id: string, leaseExpiresAtMs = NOW + 15_000): Omit<MediaServerRecord, 'state'> => ({
  serverId: id,
  relayUrl: `ws://10.0.0.${id.length}:8081`,
  sealedRelaySecret: `secret-of-${id}`,
  leaseExpiresAtMs,
});

it('places a free room on the first server; a second server learns the live owner', async () => {
  expect(await store.place('t1', 'r1', server('a'), NOW)).toMatchObject({ serverId: 'a', relayUrl: 'ws://10.0.0.1:8081' });
  expect(await store.place('t1', 'r1', server('bb'), NOW)).toMatchObject({ serverId: 'a', sealedRelaySecret: 'secret-of-a' });
  // Tenant-scoped: another tenant's room of the same id is another room.
  expect(await store.place('t2', 'r1', server('bb'), NOW)).toMatchObject({ serverId: 'bb', tenant: 't2' });
  expect(await store.get('t1', 'r1', NOW)).toMatchObject({ serverId: 'a' });
});

it('takes a room over once its lease lapses; the old owner then cannot renew it', async () => {
  await store.place('t1', 'r2', server('a', NOW + 1000), NOW);
  expect(await store.get('t1', 'r2', NOW + 1001)).toBeNull();
  expect(await store.place('t1', 'r2', server('bb', NOW + 20_000), NOW + 1001)).toMatchObject({ serverId: 'bb' });
  expect(await store.renew('t1', 'r2', server('a', NOW + 30_000))).toBe(false);
  expect(await store.renew('t1', 'r2', server('bb', NOW + 30_000))).toBe(true);
  expect(await store.get('t1', 'r2', NOW + 25_000)).toMatchObject({ serverId: 'bb', leaseExpiresAtMs: NOW + 30_000 });
});

it("only the owner's release of the lease it last wrote lets a room go; a renewal restores a deleted placement", async () => {
  await store.place('t1', 'r3', server('a'), NOW);
  await store.release('t1', 'r3', 'bb', NOW + 15_000);
  expect(await store.get('t1', 'r3', NOW)).toMatchObject({ serverId: 'a' });
  // Placed again meanwhile (a newer lease): an older release keeps it.
  await store.place('t1', 'r3', server('a', NOW + 16_000), NOW);
  await store.release('t1', 'r3', 'a', NOW + 15_000);
  expect(await store.get('t1', 'r3', NOW)).toMatchObject({ serverId: 'a', leaseExpiresAtMs: NOW + 16_000 });
  await store.release('t1', 'r3', 'a', NOW + 16_000);
  expect(await store.get('t1', 'r3', NOW)).toBeNull();
  expect(await store.renew('t1', 'r3', server('a'))).toBe(true);
  expect(await store.get('t1', 'r3', NOW)).toMatchObject({ serverId: 'a' });
});

it('lists server records; forgetting one that renewed meanwhile keeps it', async () => {
  await store.heartbeat({ ...server('s1', NOW - 1), state: 'stopped' });
  await store.heartbeat({ ...server('s2'), state: 'draining' });
  expect(await store.servers()).toEqual(
    expect.arrayContaining([expect.objectContaining({ serverId: 's1', state: 'stopped' }), expect.objectContaining({ serverId: 's2', state: 'draining' })]),
  );
  await store.heartbeat({ ...server('s1', NOW + 5000), state: 'serving' });
  await store.forgetServer('s1', NOW - 1);
  expect((await store.servers()).map((s) => s.serverId)).toContain('s1');
  await store.forgetServer('s1', NOW + 5000);
  expect((await store.servers()).map((s) => s.serverId)).not.toContain('s1');
});
