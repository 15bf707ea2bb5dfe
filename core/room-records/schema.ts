import { z } from 'zod';
import { ROOM_ID, ROOM_ID_RULE } from '../connectors/schema';
import { ROOM_RECORD_ID } from '../ids';
import { pageQuerySchema } from '../pagination';

/** A generated `roomId`: `xxxx-xxxx-xxxx`, lowercase letters and digits. A `customRoomId` never has this shape. */
export const ROOM_KEY = /^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/;

/** The events a room's `webhook` may name (core/sessions/events.ts). */
export const ROOM_WEBHOOK_EVENTS = ['session-started', 'session-ended', 'participant-joined', 'participant-left'] as const;
export type RoomWebhookEvent = (typeof ROOM_WEBHOOK_EVENTS)[number];

/** What `autoCloseConfig.type` may say (VideoSDK's): acted on by the room's session recorder (ingest-container/src/room/sessions.ts). */
export const AUTO_CLOSE_TYPES = ['session-ends', 'session-end-and-deactivate'] as const;

const customRoomId = z
  .string()
  .regex(ROOM_ID, `must be ${ROOM_ID_RULE}`)
  .refine((value) => !ROOM_KEY.test(value), 'must not have the xxxx-xxxx-xxxx shape of generated roomIds')
  .refine((value) => !ROOM_RECORD_ID.test(value), 'must not have the shape of a room record id (rm_…)');

/** Where room events go: the same address policy as /v2/sip/webhooks URLs, checked by the service (it resolves hosts). */
const webhook = z.strictObject({
  endPoint: z.string().trim().max(2048, 'must be at most 2048 characters'),
  events: z
    .array(z.enum(ROOM_WEBHOOK_EVENTS, { message: `must be one of ${ROOM_WEBHOOK_EVENTS.join(', ')}` }))
    .min(1, 'must name at least one event')
    .transform((list) => ROOM_WEBHOOK_EVENTS.filter((event) => list.includes(event))),
});

const autoCloseConfig = z.strictObject({
  type: z.enum(AUTO_CLOSE_TYPES, { message: `must be one of ${AUTO_CLOSE_TYPES.join(', ')}` }),
  /** Minutes. */
  duration: z.number().int('must be an integer').min(1, 'must be 1-1440 (minutes)').max(1440, 'must be 1-1440 (minutes)').optional(),
});

export const createRoomSchema = z
  .strictObject({ customRoomId: customRoomId.optional(), webhook: webhook.optional(), autoCloseConfig: autoCloseConfig.optional() })
  .meta({ id: 'RoomCreate' });
export type CreateRoomInput = z.output<typeof createRoomSchema>;

/** What a room keeps of its create request besides its names. */
export type RoomBody = Pick<CreateRoomInput, 'webhook' | 'autoCloseConfig'>;

export const listRoomsQuerySchema = pageQuerySchema.extend({
  query: z.string().max(128, 'must be at most 128 characters').optional().meta({ description: 'A `roomId` or `customRoomId`, matched exactly' }),
});

export const deactivateRoomSchema = z.strictObject({ roomId: z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters') }).meta({ id: 'RoomDeactivate' });

const timestamp = z.iso.datetime();

/** A room as the API shows it (`RoomView`). */
export const roomSchema = z
  .strictObject({
    id: z.string().regex(ROOM_RECORD_ID),
    roomId: z.string(),
    customRoomId: z.string().nullable(),
    disabled: z.boolean(),
    webhook: z.strictObject({ endPoint: z.string(), events: z.array(z.enum(ROOM_WEBHOOK_EVENTS)) }).optional(),
    autoCloseConfig: autoCloseConfig.optional(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Room' });
