import { createLogger } from '../../core/log';
import { PlacementStore } from '../../core/placement';
import { ClusterMember } from '../../ingest-container/src/cluster/member';
import { startDynaliteBackend, useStoreTable } from '../support/store-backends';

/** A media server's hold on its rooms, against the embedded DynamoDB (dynalite). */
const db = useStoreTable(startDynaliteBackend, 'members');
let store: PlacementStore;
const lost: string[] = [];

beforeAll(() => {
  store = new PlacementStore(db.dynamo, 'members');
});

function member(id: string, onLost = (_t: string, room: string) => void lost.push(`${id}:${room}`), log = createLogger('error', {}, () => undefined)): ClusterMember {
  return new ClusterMember(store, { serverId: id, relayUrl: `ws://${id}:8081`, sealedRelaySecret: `s-${id}`, leaseMs: 15_000, log, onLost });
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

it('holds a room while any connection seated there lasts, and lets it go after the last one', async () => {
  const a = member('a');
  const b = member('b');
  const first = await a.place('t', 'room-1');
  const second = await a.place('t', 'room-1');
  if (!first.here || !second.here) throw new Error('expected the room here');
  expect(await b.place('t', 'room-1')).toMatchObject({ here: false, owner: { serverId: 'a', relayUrl: 'ws://a:8081' } });
  first.release();
  first.release(); // a second release of the same connection changes nothing
  await settle();
  expect(await store.get('t', 'room-1')).toMatchObject({ serverId: 'a' });
  second.release();
  await settle();
  expect(await store.get('t', 'room-1')).toBeNull();
  // `a` holds nothing any more: placing the room again writes its placement (a room still held would be served from memory).
  const again = await a.place('t', 'room-1');
  expect(await store.get('t', 'room-1')).toMatchObject({ serverId: 'a' });
  if (again.here) again.release();
  await settle();
  expect(await b.place('t', 'room-1')).toMatchObject({ here: true });
});

it('draining takes no new room but keeps one still placed there; stop lets everything go and marks the server stopped', async () => {
  const a = member('a2');
  const held = await a.place('t', 'room-2');
  expect(held.here).toBe(true);
  await a.drain();
  await expect(a.place('t', 'room-3')).rejects.toThrow('draining');
  expect(await a.place('t', 'room-2')).toMatchObject({ here: true });
  await a.stop();
  expect(await store.get('t', 'room-2')).toBeNull();
  const record = (await store.servers()).find((s) => s.serverId === 'a2');
  expect(record).toMatchObject({ state: 'stopped' });
  expect(record!.leaseExpiresAtMs).toBeLessThan(Date.now());
  expect(lost).toEqual([]);
});

it('a room lost to another server is reported to its listener; one that throws is logged, and neither stops the heartbeat nor the next room', async () => {
  const reported: string[] = [];
  const lines: string[] = [];
  const a = member(
    'a4',
    (_t, room) => {
      reported.push(room);
      throw new Error(`listener broke on ${room}`);
    },
    createLogger('error', {}, (line) => lines.push(line)),
  );
  for (const room of ['room-4', 'room-5']) {
    expect(await a.place('t', room)).toMatchObject({ here: true });
    // Another server takes the room over, as once its lease lapsed.
    await store.place('t', room, { serverId: 'x', relayUrl: 'ws://x:8081', sealedRelaySecret: 's-x', leaseExpiresAtMs: Date.now() + 60_000, leaseMs: 15_000 }, Date.now() + 60_000);
  }
  await a.start();
  await a.stop();
  expect(reported.sort()).toEqual(['room-4', 'room-5']);
  expect(lines.filter((line) => line.includes('listener broke'))).toHaveLength(2);
  expect(lines.join('\n')).toMatch(/"roomId":"room-4"/);
});
