import { Room } from '../../../ingest-container/src/room/room';
import { RoomSeats } from '../../../ingest-container/src/cluster/capacity';
// Starts the server; the faults below are planted before any room exists (its start awaits its listeners).
import '../../../ingest-container/src/main';

/**
 * The media server's entry point with bugs planted in rooms of chosen ids, for the fault tests: a throw where
 * seats are taken (`boom-seat`, its second connection: on the relay port, inside the seating promise), as a participant joins its room
 * (`boom-join`: inside ws's upgrade callback) and as it leaves (`boom-leave`: inside the socket's close listener).
 * Each is a callback ws, net or a promise calls: unguarded, the throw would end the process.
 */
function plant<T extends object>(proto: T, name: keyof T & string, when: (self: T, args: unknown[]) => boolean): void {
  const original = proto[name] as (...args: unknown[]) => unknown;
  Object.assign(proto, {
    [name](this: T, ...args: unknown[]) {
      if (when(this, args)) throw new Error(`planted fault in ${name}`);
      return original.apply(this, args);
    },
  });
}

// The second connection to the room: the first placed it here, the second is relayed in by a peer.
plant(RoomSeats.prototype, 'take', (seats, [tenant, roomId]) => roomId === 'boom-seat' && seats.seatsIn(tenant as string, roomId) > 0);
plant(Room.prototype, 'join', (room) => room.id === 'boom-join');
plant(Room.prototype, 'leave', (room) => room.id === 'boom-leave');
