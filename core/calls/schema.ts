import { z } from 'zod';
import { ROOM_ID, ROOM_ID_RULE } from '../connectors/schema';
import { pageQuerySchema } from '../pagination';
import { PROVIDER_IDS } from '../providers';
import { AGENT_STATUSES, CALL_ID, CALL_STATUS_VALUES, CALL_TYPES, STREAM_TIMELOG_EVENT_VALUES } from './model';

const timestamp = z.iso.datetime();
const status = z.enum(CALL_STATUS_VALUES);

/** A call as `GET /v2/sip/call/{id}` and every webhook delivery's `data` show it (`CallView`). */
export const callViewSchema = z
  .strictObject({
    id: z.string().regex(CALL_ID),
    type: z.enum(CALL_TYPES),
    status,
    from: z.string().meta({ description: 'Masked (`+*******0100`) when the routing rule has `hidePhoneNumber`' }),
    to: z.string().meta({ description: 'Masked as `from`' }),
    roomId: z.string().nullable(),
    ruleId: z.string().nullable(),
    connectorId: z.string(),
    provider: z.enum(PROVIDER_IDS),
    region: z.string().nullable(),
    start: timestamp.meta({ description: 'When the Answer URL took the call' }),
    end: timestamp.nullable(),
    timelog: z
      .array(
        z.union([
          z.strictObject({ status, at: timestamp }),
          z.strictObject({ event: z.enum(STREAM_TIMELOG_EVENT_VALUES), streamId: z.string().meta({ description: "Plivo's StreamID" }), at: timestamp }),
        ]),
      )
      .meta({ description: "Every status change, and each start and stop Plivo reported of the call's audio stream, oldest first" }),
    metadata: z.record(z.string(), z.string()),
    additionalDetails: z.strictObject({
      callUuid: z.string().meta({ description: "Plivo's CallUUID" }),
      answeredAt: timestamp.nullable(),
      hangupReason: z.string().nullable().meta({ description: "Why the call ended: Plivo's HangupCauseName, or the connector's reason" }),
      hangupCause: z.string().nullable().meta({ description: "Plivo's HangupCauseCode" }),
      durationSeconds: z.number().nullable(),
      agentStatus: z.enum(AGENT_STATUSES).nullable(),
      stream: z
        .strictObject({
          status: z.enum(['degraded', 'dropped']),
          streamId: z.string().meta({ description: "Plivo's StreamID" }),
          at: timestamp.meta({ description: 'When the connector received the report' }),
          degradedCount: z.number().int().min(0).meta({ description: 'DegradedStream reports so far, over all the call\'s streams' }),
        })
        .nullable()
        .meta({ description: "The last trouble Plivo reported with the call's audio stream (`call-update`): `degraded` (the connector reads too slowly; Plivo buffers up to 40 s and reports at 30, 60 and 90 %) or `dropped`; null while there was none" }),
    }),
  })
  .meta({ id: 'Call' });

/** Epoch milliseconds, as digits. */
const epochMs = z
  .string()
  .regex(/^\d{1,15}$/, 'must be epoch milliseconds')
  .transform((ms) => new Date(Number(ms)).toISOString());

/** `GET /v2/sip/call`: a page of the tenant's calls, newest first, filtered. */
export const listCallsQuerySchema = pageQuerySchema
  .extend({
    roomId: z.string().regex(ROOM_ID, `must be ${ROOM_ID_RULE}`).optional(),
    id: z.string().regex(CALL_ID, 'must be a call id').optional(),
    ruleId: z.string().min(1).max(64).optional(),
    type: z.enum(CALL_TYPES, { message: `must be one of ${CALL_TYPES.join(', ')}` }).optional(),
    search: z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters').optional().meta({ description: 'Part of `from`, `to` or `roomId` (hidden numbers are not searched)' }),
    startDate: epochMs.optional().meta({ description: 'Calls started at or after this time (epoch ms)' }),
    endDate: epochMs.optional().meta({ description: 'Calls started at or before this time (epoch ms)' }),
  })
  .refine((q) => q.startDate === undefined || q.endDate === undefined || q.startDate <= q.endDate, { message: 'startDate must not be after endDate', path: ['startDate'] });
export type ListCallsQuery = z.output<typeof listCallsQuerySchema>;
export type CallFilter = Omit<ListCallsQuery, 'page' | 'perPage'>;
