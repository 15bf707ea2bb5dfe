import { BoundedMap } from '../../../core/bounded-map';
import { roomName } from '../../../core/room-records/model';
import type { RoomNames } from '../../../core/room-records/service';
import { roomKey } from '../room/key';
import { Refusal } from '../transport/refuse';

/**
 * How long a server trusts what it read of a room that may be joined: within this long after a deactivation, a server
 * that read the room just before may still seat a participant in it (not the room's own server, which ran the close,
 * nor one whose relayed members of it were closed: both learn at once). A deactivated room is remembered for good:
 * deactivation is final.
 */
export const ROOM_CHECK_TTL_MS = 5_000;
/** Rooms remembered per server; full, the memory starts over (each entry costs a read to relearn). */
const REMEMBERED_ROOMS = 10_000;

interface Checked {
  /** The name the room is kept by on media servers (`roomName`): its `customRoomId`, else its `roomId`. */
  readonly name: string;
  readonly disabled: boolean;
  readonly atMs: number;
}

/**
 * Admits a participant's join to its room record, at join, never per frame: the record is read (and written on the
 * room's first use) at most once per room every ROOM_CHECK_TTL_MS on this server. A deactivated room refuses the join
 * (403 `room_deactivated`); any other answers the name the room is kept by, so joining by `roomId` or `customRoomId`
 * reaches the same room.
 */
export class RoomGate {
  private readonly checked = new BoundedMap<string, Checked>(REMEMBERED_ROOMS);

  constructor(
    private readonly rooms: Pick<RoomNames, 'joined'>,
    private readonly ttlMs = ROOM_CHECK_TTL_MS,
  ) {}

  async admit(tenant: string, name: string): Promise<string> {
    const key = roomKey(tenant, name);
    let checked = this.checked.get(key);
    if (!checked || (!checked.disabled && Date.now() - checked.atMs > this.ttlMs)) {
      const room = await this.rooms.joined(tenant, name);
      checked = { name: roomName(room), disabled: room.disabled, atMs: Date.now() };
      this.checked.set(key, checked);
    }
    if (checked.disabled) throw new Refusal('room_deactivated', `Room ${name} is deactivated`);
    return checked.name;
  }

  /** Whether this server knows the room to be deactivated, without a read (a call's stream: its claim was checked when routed). */
  knownDeactivated(tenant: string, name: string): boolean {
    return this.checked.get(roomKey(tenant, name))?.disabled === true;
  }

  /** The room was closed here (a `close-room` command), or its server closed members relayed from here: later joins here are refused without a read. */
  deactivated(tenant: string, name: string): void {
    this.checked.set(roomKey(tenant, name), { name, disabled: true, atMs: Date.now() });
  }
}
