/**
 * Every close code the media server sends, in one table: the code, the sockets that may get it and when. Code, docs
 * (`docs/room-protocol.md`, `docs/operations.md`) and tests read it; `test/unit/close-codes.test.ts` fails when a
 * doc and this table disagree. Ours are 4xxx; the 1xxx ones are RFC 6455's.
 */
export const CLOSE = {
  /** A dialled agent's call has ended; a Plivo stream that sent `stop`. */
  ended: 1000,
  /** The media server shuts down. */
  shutdown: 1001,
  /** A message over the socket's `maxPayload` (sent by ws). */
  tooBig: 1009,
  /** Handling a message failed (a fault of ours), or a relayed call's room server was lost. */
  error: 1011,
  /** The room moved to another media server, or its server was lost: reconnect. */
  moved: 1012,
  /** A participant hung the call up. */
  kicked: 4000,
  /** The participant was removed from its room (`POST /v2/sessions/participants/remove`). */
  removed: 4001,
  /** A Plivo stream's first event was not `start`. */
  badOrder: 4400,
  /** A Plivo stream's `start.callId` is not its claim's CallUUID. */
  callMismatch: 4403,
  /** A Plivo stream sent no `start` in time (`STREAM_START_TIMEOUT_SECONDS`). */
  startTimeout: 4408,
  /** The room was deactivated (`POST /v2/rooms/deactivate`): its participants and calls are closed, and it cannot be joined again. */
  roomDeactivated: 4410,
  /** The room's session was ended (`POST /v2/sessions/end`): the room may be joined again, starting a new session. */
  sessionEnded: 4411,
  /** An outbound call's `participant.id` is another participant's in its room. */
  participantIdTaken: 4409,
  /** More than `BAD_MESSAGES_PER_SECOND` malformed messages within a second. */
  badMessages: 4422,
  /** Audio, control messages or messages of any kind faster than allowed. */
  flood: 4429,
  /** The room has `MAX_PARTICIPANTS_PER_ROOM` seats taken (a call; a participant is refused 429). */
  roomFull: 4430,
  /** The tenant has `MAX_ROOMS_PER_TENANT` rooms on the room's media server (a call; a participant is refused 429). */
  roomLimit: 4431,
  /** The tenant has `MAX_CONNECTIONS_PER_TENANT` connections on this media server (a call; a participant is refused 429). */
  connectionLimit: 4432,
  /** This media server has `MAX_CONNECTIONS` connections (a call; a participant is refused 503). */
  serverFull: 4433,
  /** Audio sent ahead over the room's or the media server's budget (`MAX_QUEUED_AUDIO_MB_PER_ROOM`, `MAX_QUEUED_AUDIO_MB`). */
  audioBudget: 4507,
} as const;

export type CloseName = keyof typeof CLOSE;

/** The codes a room participant may get (`docs/room-protocol.md`, "Closing"). */
export const ROOM_CLOSES: readonly CloseName[] = ['ended', 'shutdown', 'tooBig', 'error', 'moved', 'removed', 'roomDeactivated', 'sessionEnded', 'badMessages', 'flood', 'audioBudget'];

/** The codes a Plivo stream may get (`docs/operations.md`, "Close codes of Plivo streams"). */
export const STREAM_CLOSES: readonly CloseName[] = ['ended', 'shutdown', 'tooBig', 'error', 'kicked', 'removed', 'badOrder', 'callMismatch', 'startTimeout', 'roomDeactivated', 'sessionEnded', 'participantIdTaken', 'badMessages', 'flood', 'roomFull', 'roomLimit', 'connectionLimit', 'serverFull'];

/** Never sent: what ws reports when a socket dropped with no close frame (RFC 6455 7.1.5), e.g. its peer's server died. */
export const NO_CLOSE_FRAME = 1006;

/** How a connection ends when handling it failed (RFC 6455 7.4.1: an internal error). */
export const INTERNAL_ERROR = { code: CLOSE.error, reason: 'internal error' } as const;
/** How every participant and call of a room ends when it is deactivated. */
export const ROOM_DEACTIVATED = { code: CLOSE.roomDeactivated, reason: 'room deactivated' } as const;
/** How every participant and call of a room ends when its session is ended. */
export const SESSION_ENDED = { code: CLOSE.sessionEnded, reason: 'session ended' } as const;
/** How a room's members end when the room is closed as a whole: deactivated, or its session ended. */
export const ROOM_ENDINGS = { 'room-deactivated': ROOM_DEACTIVATED, 'session-ended': SESSION_ENDED } as const;
/** Why a room is closed as a whole (and its calls' `hangupReason`). */
export type RoomEnding = keyof typeof ROOM_ENDINGS;
/** How a web or agent participant ends when it is removed from its room. */
export const REMOVED = { code: CLOSE.removed, reason: 'removed' } as const;
/** How every connection ends as its media server shuts down. */
export const SHUTDOWN = { code: CLOSE.shutdown, reason: 'media server shutting down' } as const;
