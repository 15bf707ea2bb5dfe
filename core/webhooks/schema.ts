import { z } from 'zod';
import { callViewSchema } from '../calls/schema';
import { CALL_EVENT_TYPES, WEBHOOK_EVENT_TYPES } from '../events';
import { pageQuerySchema } from '../pagination';
import { RECORDING_EVENTS } from '../recordings/model';
import { recordingSchema } from '../recordings/schema';
import { ROOM_WEBHOOK_EVENTS } from '../room-records/schema';
import { DELIVERY_STATUSES } from './model';

const url = z.string().trim().max(2048, 'must be at most 2048 characters');
const eventName = z.enum(WEBHOOK_EVENT_TYPES, { message: `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}` });
const events = z
  .array(eventName)
  .min(1, 'must name at least one event')
  .transform((list) => WEBHOOK_EVENT_TYPES.filter((event) => list.includes(event)));

export const createWebhookSchema = z.strictObject({ url, events: events.optional() }).meta({ id: 'WebhookCreate' });

export const updateWebhookSchema = z
  .strictObject({ url: url.optional(), events: events.optional() })
  .refine((body) => body.url !== undefined || body.events !== undefined, { message: 'must change at least one of url, events' })
  .meta({ id: 'WebhookUpdate' });

/** `GET /v2/sip/webhooks/{id}/deliveries`: numbered pages, as every `/v2/sip/` list. */
export const listDeliveriesQuerySchema = pageQuerySchema.extend({
  status: z.enum(DELIVERY_STATUSES, { message: `must be one of ${DELIVERY_STATUSES.join(', ')}` }).optional(),
});

export type WebhookBody = z.output<typeof createWebhookSchema>;
export type WebhookUpdate = z.output<typeof updateWebhookSchema>;

const timestamp = z.iso.datetime();

/** A webhook as the API shows it (`WebhookView`). */
export const webhookSchema = z
  .strictObject({
    id: z.string().regex(/^wh_[0-9a-z]{16}$/),
    url: z.string(),
    events: z.array(eventName),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Webhook' });

/** What creating one answers: the webhook and its signing secret, shown this once. */
export const createdWebhookSchema = webhookSchema
  .extend({ secret: z.string().regex(/^whsec_/).meta({ description: 'The Standard Webhooks signing secret; shown only in this response' }) })
  .meta({ id: 'CreatedWebhook' });

/** A webhook in a listing: `webhookId` repeats `id`, as VideoSDK's listing has it. */
export const listedWebhookSchema = webhookSchema.extend({ webhookId: z.string() }).meta({ id: 'ListedWebhook' });

export const webhookPayloadSchema = z
  .strictObject({ webhookType: z.enum(CALL_EVENT_TYPES), data: callViewSchema, timestamp })
  .meta({ id: 'WebhookPayload', description: 'The body of a call event’s delivery: the call as `data`' });

/** The body of a recording event's delivery (core/recordings/events.ts): the recording, `file.fileUrl` null. */
export const recordingWebhookPayloadSchema = z
  .strictObject({ webhookType: z.enum(RECORDING_EVENTS), data: recordingSchema, timestamp })
  .meta({ id: 'RecordingWebhookPayload', description: 'The body of a recording event’s delivery: the recording as `data`, its `file.fileUrl` null (`GET /v2/recordings/{id}` gives one)' });

export const deliverySchema = z
  .strictObject({
    id: z.string().regex(/^whd_[0-9a-z]{16}$/),
    webhookId: z.string(),
    event: eventName,
    callId: z.string().nullable().meta({ description: 'The call the event is about; null for a room recording’s events' }),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.array(
      z.strictObject({ at: timestamp, durationMs: z.number().int(), statusCode: z.number().int().nullable(), error: z.string().nullable() }),
    ),
    cycleAttempts: z.number().int(),
    createdAt: timestamp,
    updatedAt: timestamp,
    nextAttemptAt: timestamp.nullable(),
    payload: z.union([webhookPayloadSchema, recordingWebhookPayloadSchema]),
  })
  .meta({ id: 'Delivery' });

/** The body of a room's session event delivery (docs/webhooks.md, "Room events"). */
export const roomWebhookPayloadSchema = z
  .strictObject({ webhookType: z.enum(ROOM_WEBHOOK_EVENTS), data: z.record(z.string(), z.unknown()), timestamp })
  .meta({ id: 'RoomWebhookPayload', description: 'The body of a room webhook delivery: the session, or the participant, as `data`' });

/** A delivery of a room's session event: filed under the room record's id (`webhookId`), about no call. */
export const roomDeliverySchema = deliverySchema
  .extend({ webhookId: z.string().meta({ description: 'The room record’s id (`rm_…`)' }), event: z.enum(ROOM_WEBHOOK_EVENTS), callId: z.null(), payload: roomWebhookPayloadSchema })
  .meta({ id: 'RoomDelivery' });
