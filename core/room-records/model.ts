import type { TenantDocument } from '../documents';
import type { RoomBody } from './schema';

/** A generated `roomId`: `xxxx-xxxx-xxxx`, lowercase letters and digits. A `customRoomId` never has this shape. */
export const ROOM_KEY = /^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/;

/**
 * The events a room's `webhook` may name. Stored now; delivered by the sessions part of issue 19, which records
 * sessions and participants (nothing sends them yet).
 */
export const ROOM_WEBHOOK_EVENTS = ['session-started', 'session-ended', 'participant-joined', 'participant-left'] as const;

/** What `autoCloseConfig.type` may say (VideoSDK's): stored now, acted on by the sessions part of issue 19. */
export const AUTO_CLOSE_TYPES = ['session-ends', 'session-end-and-deactivate'] as const;

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
