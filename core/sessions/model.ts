/**
 * A room session: one live occupancy of a room, from its first participant's join to its last one's leave, recorded
 * by the media server holding the room (where its members meet, relayed ones included). Nothing is written per frame.
 */
export const SESSION_STATUSES = ['ongoing', 'ended'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

export const PARTICIPANT_KINDS = ['phone', 'web', 'agent'] as const;
export type SessionParticipantKind = (typeof PARTICIPANT_KINDS)[number];

export interface Session {
  readonly tenant: string;
  /** `ss_…`: time-ordered by `start`, and unguessable. */
  readonly id: string;
  /** The room record's `roomId` and `customRoomId`. */
  readonly roomId: string;
  readonly customRoomId: string | null;
  readonly start: string;
  readonly end: string | null;
  readonly status: SessionStatus;
  /** The media region of the server that held the room. */
  readonly region: string;
}

export type SessionView = Omit<Session, 'tenant'>;

export const toSessionView = ({ tenant: _tenant, ...view }: Session): SessionView => view;

/** One stay of a participant in the session: a participant who leaves and comes back has one entry per stay. */
export interface TimelogEntry {
  readonly start: string;
  /** Null while the participant is in the room. */
  readonly end: string | null;
}

export interface SessionParticipant {
  readonly participantId: string;
  /** A phone's `participant.name` (`POST /v2/sip/call`), else its caller's number (masked when its rule hides it); null for web and agent participants. */
  readonly name: string | null;
  readonly kind: SessionParticipantKind;
  /** The call's id (`call_…`), for phones; null otherwise. */
  readonly callId: string | null;
  readonly timelog: readonly TimelogEntry[];
}

/** In the room now: its last stay has not ended. */
export const isActive = (participant: SessionParticipant): boolean => participant.timelog.at(-1)?.end === null;

