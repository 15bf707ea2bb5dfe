import { ConnectionSlots, RoomSeats } from '../../ingest-container/src/cluster/capacity';
import { loadMediaConfig } from '../../ingest-container/src/config';

/** Small limits, so each is reached in a few steps. */
const LIMITS = { maxRoomsPerTenant: 2, maxParticipantsPerRoom: 3, maxQueuedAudioBytesPerRoom: 8e6, maxQueuedAudioBytes: 256e6, maxConnections: 4, maxConnectionsPerTenant: 2, maxRecordings: 2 };

describe('RoomSeats', () => {
  const seats = () => new RoomSeats(LIMITS);

  it('takes seats up to the room limit, and a freed seat again; release is safe to call twice', () => {
    const s = seats();
    const taken = [s.take('t', 'r', 1), s.take('t', 'r', 2)];
    expect(taken.every((seat) => 'release' in seat)).toBe(true);
    expect(s.take('t', 'r', 1)).toEqual({ limit: 'room-full', message: 'The room is full: at most 3 participants per room' });
    const first = taken[0] as { release: () => void };
    first.release();
    first.release();
    expect(s.seatsIn('t', 'r')).toBe(2);
    expect('release' in s.take('t', 'r', 1)).toBe(true);
    expect(s.take('t', 'r', 1)).toMatchObject({ limit: 'room-full' });
  });

  it('refuses seats that do not all fit (a call with its agent takes two)', () => {
    const s = seats();
    s.take('t', 'r', 2);
    expect(s.take('t', 'r', 2)).toMatchObject({ limit: 'room-full' });
    expect(s.seatsIn('t', 'r')).toBe(2);
  });

  it("counts a tenant's rooms with anyone seated: a new room over the limit is refused, its own rooms and other tenants' are not", () => {
    const s = seats();
    const a = s.take('t', 'a', 1) as { release: () => void };
    s.take('t', 'b', 1);
    expect(s.roomsOf('t')).toBe(2);
    expect(s.take('t', 'c', 1)).toEqual({ limit: 'room-limit', message: 'Room limit reached: at most 2 rooms per tenant on one media server' });
    expect('release' in s.take('t', 'a', 1)).toBe(true);
    expect('release' in s.take('other', 'c', 1)).toBe(true);
    // "a" keeps its other seat: still two rooms.
    a.release();
    expect(s.roomsOf('t')).toBe(2);
    expect(s.take('t', 'c', 1)).toMatchObject({ limit: 'room-limit' });
  });

  it('gives a room back to its tenant when its last seat is released', () => {
    const s = seats();
    const a = s.take('t', 'a', 1) as { release: () => void };
    s.take('t', 'b', 1);
    a.release();
    expect(s.roomsOf('t')).toBe(1);
    expect(s.seatsIn('t', 'a')).toBe(0);
    expect('release' in s.take('t', 'c', 1)).toBe(true);
  });
});

describe('loadMediaConfig limits', () => {
  const env = {
    TABLE_NAME: 't',
    KMS_KEY_ID: 'k',
    MEDIA_REGIONS: JSON.stringify({ us002: { ingestUrl: 'wss://media.example.com', claimsTable: 'c', recordingsBucket: 'recordings' } }),
    WEBHOOK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/q',
    RELAY_HOST: '10.0.0.1',
  };

  it('defaults to 1000 rooms per tenant per server, 100 participants per room, 2000 connections (1000 a tenant), 200 recordings and a 10 s wait for start', () => {
    expect(loadMediaConfig(env)).toMatchObject({ limits: { maxRoomsPerTenant: 1000, maxParticipantsPerRoom: 100, maxConnections: 2000, maxConnectionsPerTenant: 1000, maxRecordings: 200 }, startTimeoutSeconds: 10 });
  });

  it('reads MAX_ROOMS_PER_TENANT, MAX_PARTICIPANTS_PER_ROOM, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_TENANT, MAX_RECORDINGS (0: none) and STREAM_START_TIMEOUT_SECONDS', () => {
    const config = loadMediaConfig({ ...env, MAX_ROOMS_PER_TENANT: '5', MAX_PARTICIPANTS_PER_ROOM: '2', MAX_CONNECTIONS: '9', MAX_CONNECTIONS_PER_TENANT: '4', MAX_RECORDINGS: '0', STREAM_START_TIMEOUT_SECONDS: '3' });
    expect(config).toMatchObject({ limits: { maxRoomsPerTenant: 5, maxParticipantsPerRoom: 2, maxConnections: 9, maxConnectionsPerTenant: 4, maxRecordings: 0 }, startTimeoutSeconds: 3 });
  });

  it.each([
    [{ MAX_ROOMS_PER_TENANT: '0' }, 'MAX_ROOMS_PER_TENANT must be a whole number 1-1000000, got "0"'],
    [{ MAX_PARTICIPANTS_PER_ROOM: '1' }, 'MAX_PARTICIPANTS_PER_ROOM must be a whole number 2-10000, got "1"'],
    [{ MAX_PARTICIPANTS_PER_ROOM: 'many' }, 'MAX_PARTICIPANTS_PER_ROOM must be a whole number 2-10000'],
    [{ MAX_CONNECTIONS: '0' }, 'MAX_CONNECTIONS must be a whole number 1-1000000, got "0"'],
    [{ STREAM_START_TIMEOUT_SECONDS: '30' }, 'STREAM_START_TIMEOUT_SECONDS must be a whole number 1-10, got "30"'],
    [{ MAX_RECORDINGS: '10001' }, 'MAX_RECORDINGS must be a whole number 0-10000, got "10001"'],
  ])('refuses %j', (override, message) => {
    expect(() => loadMediaConfig({ ...env, ...override })).toThrow(message);
  });
});

describe('ConnectionSlots', () => {
  const slots = () => new ConnectionSlots(LIMITS);
  const taken = (slot: ReturnType<ConnectionSlots['take']>) => {
    if (!('release' in slot)) throw new Error(`refused: ${slot.limit}`);
    return slot;
  };

  it("refuses a tenant past its share, not another tenant; a relayed connection counts against the total alone", () => {
    const s = slots();
    taken(s.take('a', false));
    taken(s.take('a', false));
    expect(s.take('a', false)).toEqual({ limit: 'connection-limit', message: 'Connection limit reached: at most 2 connections per tenant on one media server' });
    const relayed = taken(s.take('a', true));
    expect([s.held('a'), s.held()]).toEqual([2, 3]);
    taken(s.take('b', false));
    expect(s.take('b', false)).toEqual({ limit: 'server-full', message: 'The media server is full: at most 4 connections; connect again to reach another' });
    expect(s.take('c', true)).toMatchObject({ limit: 'server-full' });
    relayed.release();
    relayed.release();
    expect(s.held()).toBe(3);
    taken(s.take('b', false));
    expect([s.held('a'), s.held('b'), s.held()]).toEqual([2, 2, 4]);
  });

  it("gives a tenant's slot back on release, once", () => {
    const s = slots();
    const first = taken(s.take('a', false));
    taken(s.take('a', false));
    first.release();
    first.release();
    expect([s.held('a'), s.held()]).toEqual([1, 1]);
    taken(s.take('a', false));
    expect(s.take('a', false)).toMatchObject({ limit: 'connection-limit' });
  });
});
