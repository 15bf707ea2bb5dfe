import { RoomSeats } from '../../ingest-container/src/cluster/capacity';
import { loadMediaConfig } from '../../ingest-container/src/config';

describe('RoomSeats', () => {
  const seats = () => new RoomSeats({ maxRoomsPerTenant: 2, maxParticipantsPerRoom: 3 });

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
    MEDIA_REGIONS: JSON.stringify({ us002: { ingestUrl: 'wss://media.example.com', claimsTable: 'c' } }),
    WEBHOOK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/q',
    RELAY_HOST: '10.0.0.1',
  };

  it('defaults to 1000 rooms per tenant per server, 100 participants per room and a 10 s wait for start', () => {
    expect(loadMediaConfig(env)).toMatchObject({ limits: { maxRoomsPerTenant: 1000, maxParticipantsPerRoom: 100 }, startTimeoutSeconds: 10 });
  });

  it('reads MAX_ROOMS_PER_TENANT, MAX_PARTICIPANTS_PER_ROOM and STREAM_START_TIMEOUT_SECONDS', () => {
    const config = loadMediaConfig({ ...env, MAX_ROOMS_PER_TENANT: '5', MAX_PARTICIPANTS_PER_ROOM: '2', STREAM_START_TIMEOUT_SECONDS: '3' });
    expect(config).toMatchObject({ limits: { maxRoomsPerTenant: 5, maxParticipantsPerRoom: 2 }, startTimeoutSeconds: 3 });
  });

  it.each([
    [{ MAX_ROOMS_PER_TENANT: '0' }, 'MAX_ROOMS_PER_TENANT must be a whole number 1-1000000, got "0"'],
    [{ MAX_PARTICIPANTS_PER_ROOM: '1' }, 'MAX_PARTICIPANTS_PER_ROOM must be a whole number 2-10000, got "1"'],
    [{ MAX_PARTICIPANTS_PER_ROOM: 'many' }, 'MAX_PARTICIPANTS_PER_ROOM must be a whole number 2-10000'],
    [{ STREAM_START_TIMEOUT_SECONDS: '30' }, 'STREAM_START_TIMEOUT_SECONDS must be a whole number 1-10, got "30"'],
  ])('refuses %j', (override, message) => {
    expect(() => loadMediaConfig({ ...env, ...override })).toThrow(message);
  });
});
