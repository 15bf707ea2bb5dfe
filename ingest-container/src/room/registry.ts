import type { RoomLimits } from '../cluster/capacity';
import { AudioBudget } from './audio-budget';
import type { MediaCounters } from '../metrics';
import type { MediaClock } from './clock';
import { roomKey } from './key';
import { Room, type ListenerError, type RoomWatchers } from './room';

/** Rooms by tenant and id: created on first join, gone when the last participant leaves. */
export class RoomRegistry {
  private readonly rooms = new Map<string, Room>();
  /** Audio queued ahead in all rooms here together. */
  private readonly audioBudget: AudioBudget;

  constructor(
    private readonly clock: MediaClock,
    private readonly limits: Pick<RoomLimits, 'maxQueuedAudioBytes' | 'maxQueuedAudioBytesPerRoom'>,
    /** The server's counts, which every room's members count their audio's trouble into. */
    readonly counters: MediaCounters,
    private readonly onListenerError: ListenerError,
    /** Each room's session record (core/sessions); none: rooms are not recorded. */
    private readonly watchers?: RoomWatchers,
  ) {
    this.audioBudget = new AudioBudget(limits.maxQueuedAudioBytes);
  }

  /** Tenant-scoped: another tenant's room of the same id is a different room. */
  get(tenant: string, roomId: string): Room {
    const key = roomKey(tenant, roomId);
    let room = this.rooms.get(key);
    if (!room) {
      room = new Room(tenant, roomId, this.clock, () => this.rooms.delete(key), new AudioBudget(this.limits.maxQueuedAudioBytesPerRoom, this.audioBudget), this.counters, this.onListenerError, this.watchers?.watch(tenant, roomId));
      this.rooms.set(key, room);
    }
    return room;
  }

  /** The room if it is live here, without creating it. */
  find(tenant: string, roomId: string): Room | undefined {
    return this.rooms.get(roomKey(tenant, roomId));
  }

  get count(): number {
    return this.rooms.size;
  }

  /** Every room here is given up: this server is stopping. */
  abandonAll(): void {
    for (const room of this.rooms.values()) room.abandon();
  }
}
