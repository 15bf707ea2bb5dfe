import type { RoomWebhookEvent } from '../room-records/schema';
import { toSessionView, type Session, type SessionParticipant } from './model';

/**
 * A room's session event: what a room's `webhook` (`POST /v2/rooms`) may be sent. The media server holding the room
 * fires them at the session's start and end and at each participant's join and leave (the session store's writes),
 * and the sweeper fires `participant-left` and `session-ended` for a session whose server died;
 * `RoomWebhookPublisher` delivers them on the signed, retried webhook path.
 */
export interface SessionEvent {
  readonly type: RoomWebhookEvent;
  readonly tenant: string;
  /** The room's name as the media server keys it: its record's `customRoomId`, else its `roomId`. */
  readonly roomName: string;
  /** Unique to this event (`sessionId` for session-*, `sessionId/participantId/n` for participant-*): deliveries are keyed by it, so a second publish writes no twin. */
  readonly eventId: string;
  /** The payload's `data`: the session as `GET /v2/sessions/{id}` shows it, or the participant as `.../participants/{participantId}` does, with `sessionId` and `roomId`. */
  readonly data: Readonly<Record<string, unknown>>;
  /** When it happened (ISO 8601). */
  readonly timestamp: string;
}

/** Where session events go. Never throws and never blocks a join or leave: a failure is logged with the event. */
export interface SessionEventSink {
  publish(event: SessionEvent): void;
}

/** The session's `session-started` or `session-ended` event, as its record `session` is after that write. */
export function sessionEvent(type: 'session-started' | 'session-ended', roomName: string, session: Session, at: string): SessionEvent {
  return { type, tenant: session.tenant, roomName, eventId: session.id, data: { ...toSessionView(session), sessionId: session.id }, timestamp: at };
}

/** The `participant-joined` or `participant-left` event of the participant's stay `entry` (its timelog index), as its record is after that write. */
export function participantEvent(type: 'participant-joined' | 'participant-left', roomName: string, session: Session, participant: SessionParticipant, entry: number, at: string): SessionEvent {
  return {
    type,
    tenant: session.tenant,
    roomName,
    eventId: `${session.id}/${participant.participantId}/${entry}`,
    data: { ...participant, sessionId: session.id, roomId: session.roomId },
    timestamp: at,
  };
}
