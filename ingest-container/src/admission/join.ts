import { z } from 'zod';
import { ROOM_ID } from '../../../core/connectors/schema';
import { CALL_EVENT_TYPES } from '../../../core/events';
import { agentDialSchema } from '../../../core/agents/schema';
import { ROOM_RATES } from '../../../core/rooms';

/**
 * An authorised connection's join, the outcome of admission: a Plivo stream's taken claim, or a participant's
 * checked token and choices. An entry server relays it to the room's server as it is (signed, `RelayAuth`), which
 * parses it back with this schema.
 */
const text = z.string().min(1).max(256);
export const joinSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('plivo'),
    /** `switched`: a call switched into a room of the server this is relayed to; its record stays with the server holding its stream. */
    leg: z.literal('switched').optional(),
    claim: z.strictObject({
      ref: text,
      callUuid: text,
      callId: text,
      tenant: text,
      connectorId: text,
      roomId: z.string().regex(ROOM_ID),
      ruleId: text.nullable(),
      region: text,
      from: z.string().max(1024),
      to: z.string().max(1024),
      expiresAtMs: z.number(),
      agent: agentDialSchema.nullable(),
      hidePhoneNumber: z.boolean().default(false),
      dtmf: z.boolean().default(true),
      attributes: z.record(z.string().max(64), z.string().max(256)).default({}),
      // An entry server from before claims named them relays none: every event is then outboxed.
      events: z.array(z.enum(CALL_EVENT_TYPES)).max(CALL_EVENT_TYPES.length).readonly().default(CALL_EVENT_TYPES),
      participant: z.strictObject({ id: z.string().max(64).optional(), name: z.string().max(128).optional() }).optional(),
      record: z.literal(true).optional(),
    }),
  }),
  z.strictObject({
    type: z.literal('participant'),
    tenant: text,
    roomId: z.string().regex(ROOM_ID),
    kind: z.enum(['web', 'agent']),
    rate: z.literal(ROOM_RATES),
    wantsLevels: z.boolean(),
  }),
]);
export type Join = z.output<typeof joinSchema>;

/** The tenant and room a join is for. */
export const roomOf = (join: Join): { tenant: string; roomId: string } => (join.type === 'plivo' ? join.claim : join);

/** The ids a join's log lines carry. */
export const idsOf = (join: Join): Record<string, string> =>
  join.type === 'plivo' ? { tenant: join.claim.tenant, callId: join.claim.callId, callUuid: join.claim.callUuid, roomId: join.claim.roomId } : { tenant: join.tenant, roomId: join.roomId };

/** Seats the join takes in its room: a call routed to an agent takes two (its caller and the agent). */
export const seatsOf = (join: Join): number => (join.type === 'plivo' && join.claim.agent ? 2 : 1);
