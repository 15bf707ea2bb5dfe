import { roomKey } from '../room/key';
import { CLOSE } from '../transport/close-codes';
import type { RefusalCode } from '../transport/refuse';

/** How much of one media server rooms may take (`MAX_ROOMS_PER_TENANT`, `MAX_PARTICIPANTS_PER_ROOM`, `MAX_QUEUED_AUDIO_MB*`). */
export interface RoomLimits {
  /** Rooms of one tenant placed on this media server at once. */
  readonly maxRoomsPerTenant: number;
  /** Seats in one room: callers (a call routed to an agent takes two: its caller and the agent), web participants and agents. */
  readonly maxParticipantsPerRoom: number;
  /**
   * Bytes of audio the participants of one room may have queued beyond their first second each: speech agents
   * send ahead of real time. Past it the sender is closed with 4507 (`MAX_QUEUED_AUDIO_MB_PER_ROOM`, 8 MB).
   */
  readonly maxQueuedAudioBytesPerRoom: number;
  /** The same for all rooms on this media server together (`MAX_QUEUED_AUDIO_MB`, 256 MB). */
  readonly maxQueuedAudioBytes: number;
  /**
   * Connections on this media server at once, whatever their room: calls, participants, agents, relays in and out
   * (`MAX_CONNECTIONS`, 2000; the CDK stacks set one per MiB of the task's memory). Each holds buffers, so this bounds
   * the server's memory however many tenants and rooms share it.
   */
  readonly maxConnections: number;
  /** Of those, one tenant's (`MAX_CONNECTIONS_PER_TENANT`, 1000; the stacks set half of `MAX_CONNECTIONS`). */
  readonly maxConnectionsPerTenant: number;
  /**
   * Recordings this media server writes at once, room and call recordings alike (`MAX_RECORDINGS`, 200; 0: none). Each
   * holds two segments of audio in memory (the one filling, the one uploading; up to five while uploads lag) and uploads
   * one every RECORDING_SEGMENT_SECONDS (20 s): a call's 8 kHz stereo segment is 320 KB of mu-law.
   */
  readonly maxRecordings: number;
}

/**
 * The limits a join can run into, each with what the joiner gets: a call's stream is closed with `close`, a
 * participant (or a relayed or switched leg) is refused with `refusal`, and both are told `message`.
 */
export const LIMITS = {
  'room-full': { close: CLOSE.roomFull, refusal: 'room_full', message: (l: RoomLimits) => `The room is full: at most ${l.maxParticipantsPerRoom} participants per room` },
  'room-limit': { close: CLOSE.roomLimit, refusal: 'room_limit', message: (l: RoomLimits) => `Room limit reached: at most ${l.maxRoomsPerTenant} rooms per tenant on one media server` },
  'connection-limit': { close: CLOSE.connectionLimit, refusal: 'connection_limit', message: (l: RoomLimits) => `Connection limit reached: at most ${l.maxConnectionsPerTenant} connections per tenant on one media server` },
  'server-full': { close: CLOSE.serverFull, refusal: 'server_full', message: (l: RoomLimits) => `The media server is full: at most ${l.maxConnections} connections; connect again to reach another` },
} as const satisfies Record<string, { close: number; refusal: RefusalCode; message: (limits: RoomLimits) => string }>;

/**
 * Which limit a join ran into: the room's seats, the tenant's rooms on this server, the tenant's connections on this
 * server, or this server's connections.
 */
export type SeatRefusal = { readonly limit: keyof typeof LIMITS; readonly message: string };

export type SeatTaken = { readonly release: () => void };

/** A join refused at `limit`, with what the joiner is told. */
function refusal(limit: SeatRefusal['limit'], limits: RoomLimits): SeatRefusal {
  return { limit, message: LIMITS[limit].message(limits) };
}

/**
 * The connections this media server holds, in all and per tenant, each from before its upgrade until its socket
 * closes. A relayed connection in counts against the server's total alone: its tenant's share was counted where the
 * joiner's own socket landed.
 */
export class ConnectionSlots {
  private total = 0;
  private readonly tenants = new Map<string, number>();

  constructor(readonly limits: RoomLimits) {}

  /** Connections held here, in all or for `tenant`. */
  held(tenant?: string): number {
    return tenant === undefined ? this.total : (this.tenants.get(tenant) ?? 0);
  }

  /** Takes a connection's slot, or says which limit it would pass. `release` gives it back; a second call does nothing. */
  take(tenant: string, relayed: boolean): SeatTaken | SeatRefusal {
    const { maxConnections, maxConnectionsPerTenant } = this.limits;
    if (this.total >= maxConnections) return refusal('server-full', this.limits);
    const own = relayed ? 0 : 1;
    if (this.held(tenant) + own > maxConnectionsPerTenant) return refusal('connection-limit', this.limits);
    this.total++;
    if (own) this.tenants.set(tenant, this.held(tenant) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        if (!own) return;
        const left = this.held(tenant) - 1;
        if (left > 0) this.tenants.set(tenant, left);
        else this.tenants.delete(tenant);
      },
    };
  }
}

/**
 * The seats taken in rooms placed on this media server: every connection seated in a room here (its own and those
 * relayed from peers) holds its seats from before its upgrade until its socket closes, so a room's count is complete
 * at its owner, and joins that race are counted one after the other (`take` is synchronous).
 */
export class RoomSeats {
  /** Seats taken per room. */
  private readonly rooms = new Map<string, number>();
  /** Rooms with seats taken, per tenant. */
  private readonly tenants = new Map<string, number>();

  constructor(readonly limits: RoomLimits) {}

  /** Rooms of `tenant` with anyone seated here. */
  roomsOf(tenant: string): number {
    return this.tenants.get(tenant) ?? 0;
  }

  /** Seats taken in the room. */
  seatsIn(tenant: string, roomId: string): number {
    return this.rooms.get(roomKey(tenant, roomId)) ?? 0;
  }

  /** Takes `count` seats in the room, or says which limit it would pass. `release` gives them back; a second call does nothing. */
  take(tenant: string, roomId: string, count: number): SeatTaken | SeatRefusal {
    const { maxRoomsPerTenant, maxParticipantsPerRoom } = this.limits;
    const k = roomKey(tenant, roomId);
    const seated = this.rooms.get(k) ?? 0;
    if (seated === 0 && this.roomsOf(tenant) >= maxRoomsPerTenant) return refusal('room-limit', this.limits);
    if (seated + count > maxParticipantsPerRoom) return refusal('room-full', this.limits);
    this.rooms.set(k, seated + count);
    if (seated === 0) this.tenants.set(tenant, this.roomsOf(tenant) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.rooms.get(k) ?? count) - count;
        if (left > 0) return void this.rooms.set(k, left);
        this.rooms.delete(k);
        const rooms = this.roomsOf(tenant) - 1;
        if (rooms > 0) this.tenants.set(tenant, rooms);
        else this.tenants.delete(tenant);
      },
    };
  }
}
