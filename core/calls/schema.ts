import { z } from 'zod';
import { ROOM_ID, ROOM_ID_RULE } from '../connectors/schema';
import { CONNECTOR_ID, RECORDING_ID, RULE_ID } from '../ids';
import { e164 } from '../routing/schema';
import { pageQuerySchema } from '../pagination';
import { PROVIDER_IDS } from '../providers';
import { AGENT_STATUSES, CALL_ID, CALL_STATUS_VALUES, CALL_TYPES, ROOM_TIMELOG_EVENT_VALUES, STREAM_TIMELOG_EVENT_VALUES, SWITCH_FAILURES } from './model';

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
          z.strictObject({
            event: z.enum(ROOM_TIMELOG_EVENT_VALUES),
            from: z.string().meta({ description: 'The room the call was in' }),
            to: z.string().meta({ description: 'The room it was to move to' }),
            at: timestamp,
            reason: z.enum(SWITCH_FAILURES).optional().meta({ description: 'Why a switch failed (`switch-room-failed` only)' }),
          }),
        ]),
      )
      .meta({ description: "Every status change, each start and stop Plivo reported of the call's audio stream, and each move between rooms, oldest first" }),
    metadata: z.record(z.string(), z.string()).meta({ description: 'What an outbound call was placed with' }),
    additionalDetails: z.strictObject({
      callUuid: z.string().nullable().meta({ description: "Plivo's CallUUID; null while an outbound call waits for Plivo's first callback" }),
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
      transfer: z
        .strictObject({
          to: z.string().meta({ description: 'The transfer target: E.164 (masked as `from` is) or a SIP URI' }),
          dialtone: z.boolean(),
          outcome: z.string().nullable().meta({ description: "Why the transfer failed: Plivo's `DialStatus` (`busy`, `no-answer`, `timeout`, `failed`), `plivo-error` or `plivo-timeout`; null unless it failed" }),
        })
        .nullable()
        .meta({ description: 'The call\'s last transfer (`POST /v2/sip/call/transfer`); null if it was never transferred' }),
      recordings: z.array(z.string().regex(RECORDING_ID)).meta({ description: 'Its call recordings (`GET /v2/recordings/{id}`), oldest first: a routing rule with `recording: true` or `recordAudio` records it' }),
    }),
  })
  .meta({ id: 'Call' });

/** Epoch milliseconds, as digits (query strings), read as an ISO time. */
export const epochMs = z
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

const roomId = z.string().regex(ROOM_ID, `must be ${ROOM_ID_RULE}`);
const participantId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -, starting with a letter or digit');
/** Plivo rings for at most 120 s; below 5 s no phone would be picked up. */
export const RINGING_TIMEOUT = { min: 5, max: 120, default: 30 } as const;
/** Plivo's `time_limit`: an answered call lasts at most 4 hours. */
export const MAX_CALL_SECONDS = 14_400;

/**
 * `POST /v2/sip/call`, VideoSDK's body: `sipCallTo`/`sipCallFrom`/`destinationRoomId` (or `callTo`/`callFrom`/`roomId`),
 * the room from `routingRuleId` (an outbound rule) when no room is named.
 */
export const placeCallSchema = z
  .strictObject({
    sipCallTo: e164.optional().meta({ description: 'The number to call (E.164)' }),
    callTo: e164.optional().meta({ description: 'The same as `sipCallTo`' }),
    sipCallFrom: e164.optional().meta({ description: "The caller id: a Plivo number of the connector's account" }),
    callFrom: e164.optional().meta({ description: 'The same as `sipCallFrom`' }),
    destinationRoomId: roomId.optional().meta({ description: 'The room the callee joins once answered' }),
    roomId: roomId.optional().meta({ description: 'The same as `destinationRoomId`' }),
    participant: z
      .strictObject({
        id: participantId.optional(),
        name: z.string().trim().min(1, 'must not be empty').max(128, 'must be at most 128 characters').optional(),
      })
      .optional()
      .meta({ description: "The callee's participant id and display name in the room" }),
    metadata: z
      .record(z.string().min(1).max(64), z.string().max(512))
      .refine((m) => Object.keys(m).length <= 20, 'at most 20 keys')
      .optional()
      .meta({ description: 'Kept with the call and shown in its `metadata`' }),
    recordAudio: z.boolean().optional().meta({ description: 'Record the call once answered: its two sides, and its room (as a routing rule’s `recording: true` does)' }),
    waitUntilAnswered: z.boolean().default(false).meta({ description: 'Answer once the call is answered or has failed (at most 25 s), not at once' }),
    ringingTimeout: z.number().int('must be an integer').min(RINGING_TIMEOUT.min).max(RINGING_TIMEOUT.max).default(RINGING_TIMEOUT.default).meta({ description: 'Seconds the phone rings before the call is not answered' }),
    maxCallDuration: z.number().int('must be an integer').min(1).max(MAX_CALL_SECONDS).optional().meta({ description: 'Seconds the answered call may last' }),
    routingRuleId: z.string().regex(RULE_ID, 'must be a routing rule id').optional().meta({ description: 'An outbound rule: its room, agent and options' }),
    connectorId: z.string().regex(CONNECTOR_ID, 'must be a connector id').optional().meta({ description: 'Required when the tenant has several connectors with Plivo credentials' }),
  })
  .superRefine((body, ctx) => {
    const pairs = [['sipCallTo', 'callTo'], ['sipCallFrom', 'callFrom'], ['destinationRoomId', 'roomId']] as const;
    for (const [name, alias] of pairs) {
      if (body[name] !== undefined && body[alias] !== undefined) ctx.addIssue({ code: 'custom', path: [alias], message: `give ${name} or ${alias}, not both` });
    }
    if (body.sipCallTo === undefined && body.callTo === undefined) ctx.addIssue({ code: 'custom', path: ['sipCallTo'], message: 'is required' });
    if (body.sipCallFrom === undefined && body.callFrom === undefined) ctx.addIssue({ code: 'custom', path: ['sipCallFrom'], message: 'is required' });
  });
export type PlaceCallInput = z.output<typeof placeCallSchema>;

/** `POST /v2/sip/call/transfer`: a number (E.164) or a SIP URI. */
export const transferCallSchema = z.strictObject({
  callId: z.string().min(1).max(64),
  transferTo: z.union([e164, z.string().regex(/^sips?:[^\s<>"@]+@[^\s<>"]+$/, 'must be an E.164 number or a SIP URI such as sip:alice@example.com').max(256)], {
    message: 'must be an E.164 number such as +14155550100 or a SIP URI such as sip:alice@example.com',
  }),
  playDialtone: z.boolean().default(false).meta({ description: 'The caller hears a ringing tone while the target rings' }),
});
export type TransferCallInput = z.output<typeof transferCallSchema>;

/** `POST /v2/sip/call/end`. */
export const endCallSchema = z.strictObject({ callId: z.string().min(1).max(64) });

/** `POST /v2/sip/call/switch-room`: VideoSDK's body. */
export const switchRoomSchema = z.strictObject({
  callId: z.string().min(1).max(64),
  roomId: roomId.meta({ description: "The tenant's room the call moves to" }),
  participantId: participantId.optional().meta({ description: "The call's participant id in the new room; by default the one it has" }),
});
export type SwitchRoomInput = z.output<typeof switchRoomSchema>;
