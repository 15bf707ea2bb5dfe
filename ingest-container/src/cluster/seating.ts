import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../../core/log';
import { roomOf, seatsOf, type Join } from '../admission/join';
import { CLOSE } from '../transport/close-codes';
import type { Guard } from '../transport/guard';
import { UpgradeRefused } from '../transport/open-socket';
import { Refusal } from '../transport/refuse';
import { LIMITS, type ConnectionSlots, type RoomLimits, type RoomSeats, type SeatRefusal } from './capacity';
import type { Placement } from '../../../core/placement';
import type { ClusterMember } from './member';
import { Relay } from './relay';
import type { RelayAuth } from './relay-auth';

export interface SeatingDeps {
  /** This server's room placements in the region. */
  readonly cluster: ClusterMember;
  /** Seats in the rooms placed here. */
  readonly seats: RoomSeats;
  /** The connections this server holds. */
  readonly slots: ConnectionSlots;
  readonly limits: RoomLimits;
  /** Signs the joins this server relays to peers. */
  readonly relayAuth: RelayAuth;
  /** Placement lease: how long a joiner waits at most for an unreachable room server's lease to lapse. */
  readonly leaseMs: number;
  /** Throws a `Refusal` once this server takes no more joins: draining (a relayed join still is), shutting down. */
  readonly checkOpen: (relayed: boolean) => void;
  /** Counts a relay that could not be opened. */
  readonly onRelayError: () => void;
  /** Counts a connection refused at a connection limit. */
  readonly onConnectionRefused: () => void;
}

/**
 * Where an admitted join goes: `here` (its room is placed here and its seats are taken, or, for a call over a limit,
 * `over` says which and nothing is held for it: the call is upgraded to be closed with its code, so its record says
 * why), or through a `relay`
 * to the room's server. Anything else is a `Refusal`.
 */
export type Seated = { readonly at: 'here'; readonly over: SeatRefusal | null; readonly hold: RoomHold | null } | { readonly at: 'relay'; readonly relay: Relay };

/** A room placed here and a connection's seats in it, until `release` (a second call does nothing). */
export interface RoomHold {
  readonly at: 'here';
  readonly release: () => void;
}

/** The hold of seats (`seatRelease`) in a room held here (`roomRelease`): the seats go first, then the room. */
const holdOf = (seatRelease: () => void, roomRelease: () => void): RoomHold => ({
  at: 'here',
  release: () => {
    seatRelease();
    roomRelease();
  },
});

/** How a relayed connection ends when its room's server vanishes: a call cannot go on; a participant may rejoin. */
export const LOST = { plivo: { code: CLOSE.error, reason: 'media server lost' }, participant: { code: CLOSE.moved, reason: 'room server lost: reconnect' } } as const;

/**
 * Runs `release` when the socket closes, or at once when it closed already: a client that went away while
 * its join was being checked must not leave its seat or its room's hold taken.
 */
function whenClosed(socket: Duplex, release: () => void, guarded: Guard): void {
  if (socket.destroyed) guarded.run(release);
  else socket.once('close', guarded(release));
}

/**
 * Seats admitted joins, for connections that land here (`relayed: false`) and those a peer relays in (`relayed: true`)
 * alike. What the room holds here (its placement, its seats) is held until the joiner's socket closes.
 */
export class Seating {
  constructor(private readonly deps: SeatingDeps) {}

  /**
   * Seats `join`: here when its room is placed here (or nobody held it, and now this server does). Else a direct join
   * is relayed to the room's server, retried while that server cannot be reached until its lease lapses and the room
   * can be placed again; a relayed join is refused (one hop only: the entry server places the room again).
   */
  async seat(join: Join, relayed: boolean, socket: Duplex, guarded: Guard, log: Logger): Promise<Seated> {
    const { tenant, roomId } = roomOf(join);
    const slot = this.deps.slots.take(tenant, relayed);
    if ('limit' in slot) {
      this.deps.onConnectionRefused();
      log.warn(`${join.type === 'plivo' ? 'plivo stream' : 'participant'} refused: ${slot.limit}`, { relayed, connections: this.deps.slots.held(), tenantConnections: this.deps.slots.held(tenant) });
      if (join.type === 'participant' || relayed) throw new Refusal(LIMITS[slot.limit].refusal, slot.message);
      return { at: 'here', over: slot, hold: null };
    }
    whenClosed(socket, slot.release, guarded);
    const deadline = Date.now() + this.deps.leaseMs + 2000;
    for (;;) {
      // Shutting down since the checks began (a call's claim is used by now): a clear refusal.
      this.deps.checkOpen(relayed);
      const placed = await this.deps.cluster.place(tenant, roomId).catch((err: unknown) => {
        if (!relayed) throw err;
        log.warn('relayed connection refused: the room cannot be placed here', { err });
        return null;
      });
      if (placed?.here) {
        // The room stays held here while this connection lasts, whether or not its upgrade completes.
        whenClosed(socket, placed.release, guarded);
        return { at: 'here', ...this.takeSeats(join, relayed, socket, placed.release, guarded, log) };
      }
      if (!placed || relayed) throw new Refusal('room_not_here', 'The room is not placed on this server');
      try {
        const relay = await Relay.open(placed.owner, this.deps.relayAuth, join, LOST[join.type], log);
        whenClosed(socket, () => relay.attached || relay.close(CLOSE.shutdown, 'the connection went away'), guarded);
        return { at: 'relay', relay };
      } catch (err) {
        // The room is full at its server (seats are counted there): a refusal for the participant, not a relay error.
        if (err instanceof UpgradeRefused && err.status === 429) throw new Refusal('room_full', LIMITS['room-full'].message(this.deps.limits));
        // The owner refused what it was sent (not a room that moved): trying again would not help.
        const refused = err instanceof UpgradeRefused && err.status !== 409 && err.status !== 503;
        if (refused || Date.now() > deadline) {
          this.deps.onRelayError();
          log.error("relay to the room's media server failed", { owner: placed.owner.serverId, err });
          throw new Refusal('unavailable', "The room's media server cannot be reached; try again");
        }
        log.warn("relay to the room's media server failed; retrying until its lease lapses", { owner: placed.owner.serverId, err });
        await sleep(250);
      }
    }
  }

  /**
   * Holds room `roomId` for a call seated here that moves into it (switch-room): the room placed here and `seats`
   * taken in it, until `release`; or the room's live owner elsewhere; or the limit the room is at here. Throws when
   * the room can be placed nowhere (a draining server takes no new rooms).
   */
  async hold(tenant: string, roomId: string, seats: number): Promise<RoomHold | { readonly at: 'elsewhere'; readonly owner: Placement } | SeatRefusal> {
    const placed = await this.deps.cluster.place(tenant, roomId);
    if (!placed.here) return { at: 'elsewhere', owner: placed.owner };
    const seat = this.deps.seats.take(tenant, roomId, seats);
    if ('limit' in seat) {
      placed.release();
      return seat;
    }
    return holdOf(seat.release, placed.release);
  }

  /**
   * As `hold` (one seat), for a connection this server opens itself (a dispatched agent): it also takes one of the
   * tenant's connection slots here, given back with the hold.
   */
  async holdConnection(tenant: string, roomId: string): Promise<RoomHold | { readonly at: 'elsewhere'; readonly owner: Placement } | SeatRefusal> {
    const slot = this.deps.slots.take(tenant, false);
    if ('limit' in slot) {
      this.deps.onConnectionRefused();
      return slot;
    }
    try {
      const held = await this.hold(tenant, roomId, 1);
      if ('release' in held) return holdOf(held.release, slot.release);
      slot.release();
      return held;
    } catch (err) {
      slot.release();
      throw err;
    }
  }

  /**
   * Takes the join's seats in its room here, given back when its socket closes. Over a limit it gives back the room's
   * hold (`release`): a participant is refused (429; relayed in over the tenant's rooms here, 409, so the peer may
   * place the room on itself), a call is let through to be turned away with the limit's close code.
   */
  private takeSeats(join: Join, relayed: boolean, socket: Duplex, release: () => void, guarded: Guard, log: Logger): { over: SeatRefusal | null; hold: RoomHold | null } {
    const { tenant, roomId } = roomOf(join);
    const seat = this.deps.seats.take(tenant, roomId, seatsOf(join));
    if (!('limit' in seat)) {
      whenClosed(socket, seat.release, guarded);
      return { over: null, hold: holdOf(seat.release, release) };
    }
    release();
    log.warn(`${join.type === 'plivo' ? 'plivo stream' : 'participant'} refused: ${seat.limit}`, { limits: this.deps.limits, seated: this.deps.seats.seatsIn(tenant, roomId), tenantRooms: this.deps.seats.roomsOf(tenant) });
    if (relayed && seat.limit === 'room-limit') throw new Refusal('room_not_here', seat.message);
    // A switched call's leg is refused like a participant: the call stays in its room, and its record is not ended here.
    if (join.type === 'participant' || join.leg === 'switched') throw new Refusal(LIMITS[seat.limit].refusal, seat.message);
    return { over: seat, hold: null };
  }
}
