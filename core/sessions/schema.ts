import { z } from 'zod';
import { epochMs } from '../calls/schema';
import { ROOM_ID, ROOM_ID_RULE } from '../connectors/schema';
import { SESSION_ID } from '../ids';
import { numberedPageSchema, pageInfoSchema, pageQuerySchema } from '../pagination';
import { PARTICIPANT_KINDS, SESSION_STATUSES } from './model';

const roomRef = z.string().regex(ROOM_ID, `must be ${ROOM_ID_RULE}`);

/** `GET /v2/sessions`: a page of the tenant's sessions, newest first, filtered. */
export const listSessionsQuerySchema = pageQuerySchema
  .extend({
    roomId: roomRef.optional().meta({ description: "The room's `roomId` (`xxxx-xxxx-xxxx`)" }),
    customRoomId: roomRef.optional().meta({ description: "The room's `customRoomId`" }),
    status: z.enum(SESSION_STATUSES, { message: `must be one of ${SESSION_STATUSES.join(', ')}` }).optional(),
    startDate: epochMs.optional().meta({ description: 'Sessions started at or after this time (epoch ms)' }),
    endDate: epochMs.optional().meta({ description: 'Sessions started at or before this time (epoch ms)' }),
  })
  .refine((q) => q.startDate === undefined || q.endDate === undefined || q.startDate <= q.endDate, { message: 'startDate must not be after endDate', path: ['startDate'] });

/** `POST /v2/sessions/end`: the room (`roomId` or `customRoomId`) whose live session ends. */
export const endSessionSchema = z.strictObject({ roomId: roomRef }).meta({ id: 'SessionEnd' });

/** `POST /v2/sessions/participants/remove`: a participant of a room's live session, or of session `sessionId`. */
export const removeParticipantSchema = z
  .strictObject({
    roomId: roomRef.optional().meta({ description: "The room (`roomId` or `customRoomId`) whose live session the participant is in" }),
    sessionId: z.string().regex(SESSION_ID, 'must be a session id (ss_…)').optional(),
    participantId: z.string().min(1, 'must not be empty').max(64, 'must be at most 64 characters'),
  })
  .refine((body) => (body.roomId === undefined) !== (body.sessionId === undefined), { message: 'name the roomId or the sessionId (one of them)', path: ['roomId'] })
  .meta({ id: 'SessionParticipantRemove' });
export type RemoveParticipantInput = z.output<typeof removeParticipantSchema>;

const timestamp = z.iso.datetime();

/** A session as the API shows it (`SessionView`). */
export const sessionSchema = z
  .strictObject({
    id: z.string().regex(SESSION_ID),
    roomId: z.string(),
    customRoomId: z.string().nullable(),
    start: timestamp,
    end: timestamp.nullable().meta({ description: 'Null while the session is ongoing' }),
    status: z.enum(SESSION_STATUSES),
    region: z.string().meta({ description: 'The media region of the server that held the room' }),
  })
  .meta({ id: 'Session' });

/** A participant of a session (`SessionParticipant`). */
export const sessionParticipantSchema = z
  .strictObject({
    participantId: z.string(),
    name: z.string().nullable().meta({ description: "A phone's `participant.name` (`POST /v2/sip/call`), else its caller's number (masked as the call's rule says); null for web and agent participants" }),
    kind: z.enum(PARTICIPANT_KINDS),
    callId: z.string().nullable().meta({ description: "A phone's call (`GET /v2/sip/call/{id}`); null for web and agent participants" }),
    timelog: z.array(z.strictObject({ start: timestamp, end: timestamp.nullable() })).meta({ description: 'One entry per stay in the room: a participant who left and came back has two; `end` is null while it is in the room' }),
  })
  .meta({ id: 'SessionParticipant' });

export const sessionPageSchema = numberedPageSchema(sessionSchema);
/** `GET /v2/sessions/{id}/participants[/active]`: VideoSDK's shape, the page's participants inside `data`. */
export const participantPageSchema = z.strictObject({ data: z.strictObject({ participants: z.array(sessionParticipantSchema) }), pageInfo: pageInfoSchema });
