/**
 * The room protocol as an agent meets it (docs/room-protocol.md): what the server sends, and the options of the kit.
 * Read these first; `session.ts` and `server.ts` are the code.
 */

/** The rates a room speaks (PCM16LE mono, 20 ms frames). */
export const SAMPLE_RATES = [8000, 16000, 24000, 48000] as const;
export type SampleRate = (typeof SAMPLE_RATES)[number];

/** A 20 ms frame is this many samples at `rate`. */
export const frameSamples = (rate: SampleRate): number => rate / 50;

/** A caller, as the room describes it (`from` masked when the call's rule hides it). */
export interface PhoneInfo {
  readonly from: string;
  readonly to: string;
  readonly callUuid: string;
  readonly callId: string;
  readonly name?: string;
  readonly attributes?: Readonly<Record<string, string>>;
  /** The call is recorded (its rule's `recording`, an outbound call's `recordAudio`). */
  readonly record?: true;
}

export interface Participant {
  readonly id: string;
  readonly kind: 'phone' | 'web' | 'agent';
  readonly phone?: PhoneInfo;
}

/** The server's first message. A dialled agent also gets the `call` it was dialled for, or its `dispatch` job, and `metadata`. */
export interface Joined {
  readonly participantId: string;
  readonly roomId: string;
  readonly sampleRate: SampleRate;
  /** The others in the room as this participant joined. */
  readonly participants: readonly Participant[];
  readonly call?: PhoneInfo;
  readonly dispatch?: { readonly jobId: string };
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** Every event a server message becomes, with its fields: one table for the parser, the session and the docs. */
export interface ServerEvents {
  readonly joined: Joined;
  readonly 'participant-joined': { readonly participant: Participant };
  readonly 'participant-left': { readonly participantId: string; readonly reason: string };
  /** A caller pressed a key. */
  readonly dtmf: { readonly participantId: string; readonly digit: string };
  /** The caller (`participantId`) heard everything sent before the checkpoint `name`. */
  readonly 'checkpoint-played': { readonly participantId: string; readonly name: string };
  readonly levels: { readonly levels: Readonly<Record<string, number>> };
  readonly quality: { readonly quality: Readonly<Record<string, Readonly<Record<string, number>>>> };
}

export type ServerEventType = keyof ServerEvents;
export type ServerMessage = { [K in ServerEventType]: { readonly type: K } & ServerEvents[K] }[ServerEventType];

/** Why the kit reports an error, each with when (docs/agents.md lists them). A session goes on after each. */
export const AGENT_KIT_ERRORS = {
  bad_message: 'The server sent something the protocol does not have: not JSON, an unknown `type`, a field missing or of the wrong type, an odd number of audio bytes',
  refused: "The server refused the agent's last control or audio (its `error` message)",
  listener: 'A listener of the session threw',
  socket: 'The socket failed (a `close` follows), or a join could not connect',
  not_joined: '`send` before `joined` came (the rate is not known yet)',
  no_call: '`hangup()` without an id in a session that has no call (a dispatched agent), or whose call left',
  join_refused: '`dialRoom` was refused: `status` and the server\'s `serverCode` (`forbidden`, `room_deactivated`, `room_full`, ...)',
} as const;
export type AgentKitErrorCode = keyof typeof AGENT_KIT_ERRORS;

export class AgentKitError extends Error {
  override readonly name = 'AgentKitError';
  constructor(
    readonly code: AgentKitErrorCode,
    message: string,
    /** The HTTP status of a refused join. */
    readonly status?: number,
    /** The server's own code of a refused join (`bad_request`, `unauthorized`, `forbidden`, `room_full`, ...). */
    readonly serverCode?: string,
  ) {
    super(message);
  }
}

/** The events of a session, as `session.on(name, listener)` takes them. */
export interface SessionEvents {
  joined: [Joined];
  'participant-joined': [Participant];
  'participant-left': [ServerEvents['participant-left']];
  dtmf: [ServerEvents['dtmf']];
  'checkpoint-played': [ServerEvents['checkpoint-played']];
  levels: [ServerEvents['levels']['levels']];
  quality: [ServerEvents['quality']['quality']];
  /** 20 ms of the room (everyone else, mixed) at the session's rate; nothing comes during silence. */
  audio: [Int16Array];
  error: [AgentKitError];
  /** The socket closed: `code` is the server's close code (1000: the call ended; docs/room-protocol.md#closing). */
  close: [{ readonly code: number; readonly reason: string }];
}

export interface SessionOptions {
  /**
   * How far ahead of real time `send` may be, in ms: beyond it `send` waits. The room queues up to 60 s of an agent's
   * audio (its first second free, the rest against the room's budget); a smaller lead keeps the kit holding the audio
   * instead. `clear()` drops both. @default 1000
   */
  readonly maxAheadMs?: number;
  /** Bytes unsent on the socket beyond which `send` waits for them to drain. @default 65536 */
  readonly highWaterMark?: number;
}

/** The protocol's bound on how far ahead an agent may send (60 s queued by the room). */
export const MAX_AHEAD_MS = 60_000;
