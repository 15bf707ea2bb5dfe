import type { TenantDocument } from '../documents';
import { ROOM_KEY, type RoomBody } from './schema';

/**
 * A room record. Rooms are joined by name (a routing rule's room, a connector's `defaultRoomId`, `?roomId`, a
 * participant token's room): the name of a record is its `customRoomId` when it has one, else its `roomId`. A name
 * used before any record held it gets one on first use (`customRoomId` = the name, or `roomId` = the name when it
 * has the `xxxx-xxxx-xxxx` shape).
 */
export interface Room extends TenantDocument, RoomBody {
  readonly roomId: string;
  readonly customRoomId: string | null;
  readonly disabled: boolean;
}

export type RoomView = Omit<Room, 'tenant'>;

export function toRoomView({ tenant: _tenant, ...view }: Room): RoomView {
  return view;
}

/** The name the room's media server keys it by, and calls and participants are placed in. */
export const roomName = (room: Pick<Room, 'roomId' | 'customRoomId'>): string => room.customRoomId ?? room.roomId;

/** The fields of a room first used by `name`: a name in the `roomId` shape is its `roomId`, any other its `customRoomId`. */
export const namedBy = (name: string, newKey: () => string): Pick<Room, 'roomId' | 'customRoomId'> =>
  ROOM_KEY.test(name) ? { roomId: name, customRoomId: null } : { roomId: newKey(), customRoomId: name };
