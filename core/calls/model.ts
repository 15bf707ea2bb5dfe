import { createHash, randomBytes } from 'node:crypto';
import type { ProviderId } from '../providers';

/**
 * A call's status, VideoSDK's values, and the webhook event the change to it fires. An inbound call is `incoming`
 * from the Answer URL until its stream joins its room (`answered`), then `ended`; it ends `rejected` when routing
 * refused it, `missed` when its claim expired unused, and `abandoned` when Plivo's hangup came before its stream
 * joined. An outbound call is `initiated` once Plivo took it, `ringing` at the far end, `answered` when its stream
 * joined its room, then `ended`; it ends `not-answered` or `failed` when it never was answered.
 * docs/webhooks.md lists this table (checked by a test).
 */
export const CALL_STATUSES = {
  incoming: { event: 'call-started', when: 'Inbound: the Answer URL routed the call to a room and answered `<Stream>`' },
  initiated: { event: 'call-started', when: 'Outbound: `POST /v2/sip/call` placed the call with Plivo' },
  ringing: { event: 'call-ringing', when: "Outbound: the callee's phone rings (Plivo's `ring_url`)" },
  answered: { event: 'call-answered', when: "The call's stream joined its room" },
  ended: { event: 'call-hangup', when: "The call ended after its stream came: the caller, a room participant, `POST /v2/sip/call/end`, Plivo's Hangup callback, a failed stream" },
  rejected: { event: 'call-hangup', when: 'Inbound: the Answer URL refused the call (no route, an invalid `roomId`)' },
  missed: { event: 'call-missed', when: 'Inbound: the claim expired unused: Plivo never opened the stream (`CLAIM_TTL_SECONDS`, 90 s, plus 15 s)' },
  abandoned: { event: 'call-hangup', when: "Inbound: Plivo's Hangup callback came before the stream joined the room" },
  'not-answered': { event: 'call-missed', when: 'Outbound: nobody answered before `ringingTimeout`, or the network gave up (`hangupReason` says which)' },
  failed: { event: 'call-hangup', when: 'Outbound: the call could not be made: busy, an invalid number, Plivo refused it or did not answer in time' },
  'transfer-initiated': { event: 'call-transfer-initiated', when: '`POST /v2/sip/call/transfer` took the transfer of an answered call' },
  transferring: { event: 'call-transferring', when: "Plivo accepted the transfer: the caller leaves the room" },
  'transfer-ringing': { event: 'call-transfer-ringing', when: 'Plivo dials the transfer target (it fetched the transfer `<Dial>`)' },
  'transfer-accepted': { event: 'call-transfer-accepted', when: 'The transfer target answered' },
  transferred: { event: 'call-transferred', when: 'The caller talks to the transfer target, out of the room' },
  'transfer-failed': { event: 'call-transfer-failed', when: "The transfer did not happen (`additionalDetails.transfer.outcome` says why): the caller is brought back into its room, `answered` again" },
} as const satisfies Record<string, { readonly event: string; readonly when: string }>;
export type CallStatus = keyof typeof CALL_STATUSES;
/** The statuses of a call whose stream is (or will be) in its room: its stream's end ends it. */
export const STREAMING_STATUSES: readonly CallStatus[] = ['incoming', 'initiated', 'ringing', 'answered', 'transfer-failed'];
/** The statuses of a call that has not ended: streaming, or being transferred (its stream gone, the call not). */
export const LIVE_STATUSES: readonly CallStatus[] = [...STREAMING_STATUSES, 'transfer-initiated', 'transferring', 'transfer-ringing', 'transfer-accepted', 'transferred'];

/** The statuses a transfer moves a call through. */
export type TransferStatus = Extract<CallStatus, `transfer${string}`> | 'transferring' | 'transferred';

/**
 * Where each transfer status is reached from: steps may come out of order (Plivo may fetch the `<Dial>` before its
 * answer to the transfer request was read), never backwards.
 */
export const TRANSFER_STEPS: Readonly<Record<TransferStatus, readonly CallStatus[]>> = {
  'transfer-initiated': ['answered', 'transfer-failed'],
  transferring: ['transfer-initiated'],
  'transfer-ringing': ['transfer-initiated', 'transferring'],
  'transfer-accepted': ['transfer-initiated', 'transferring', 'transfer-ringing'],
  transferred: ['transfer-accepted'],
  'transfer-failed': ['transfer-initiated', 'transferring', 'transfer-ringing'],
};

/**
 * A call is transferred this many times at most, whether each transfer succeeded or failed (`POST /v2/sip/call/transfer`
 * answers 409 `transfer_limit` after): Plivo itself hangs up a call transferred about 70 times, and each transfer
 * lengthens the call's record.
 */
export const MAX_TRANSFERS = 10;

/** A transfer of the call (`POST /v2/sip/call/transfer`): where to, and how it ended when it failed. */
export interface CallTransfer {
  /** E.164 or a SIP URI. */
  readonly to: string;
  /** Plivo's dial tone (`dialMusic="real"`) while the target rings. */
  readonly dialtone: boolean;
  /** Plivo's `DialStatus` of a failed transfer (`busy`, `no-answer` ...), or `plivo-error`; null until it fails. */
  readonly outcome: string | null;
}
export const CALL_STATUS_VALUES = Object.keys(CALL_STATUSES) as [CallStatus, ...CallStatus[]];

/** Which way a call goes: `inbound` through the Answer URL, `outbound` placed by `POST /v2/sip/call`. */
export const CALL_TYPES = ['inbound', 'outbound'] as const;
export type CallType = (typeof CALL_TYPES)[number];

/** An agent-routed call's agent: `pending` until the bridge has dialled it. */
export const AGENT_STATUSES = ['pending', 'connected', 'unreachable'] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export const CALL_ID = /^call_[0-9a-hjkmnp-tv-z]{20}$/;

/** An outbound call's participant in its room, as `POST /v2/sip/call` named it. */
export interface CallParticipant {
  readonly id?: string;
  readonly name?: string;
}

/** One status change of a call, and when it happened (ISO). */
export interface CallStatusEntry {
  readonly status: CallStatus;
  readonly at: string;
}

/**
 * What the timelog records of a call's audio stream other than status changes, from Plivo's stream status callbacks.
 * docs/webhooks.md lists this table (checked by a test).
 */
export const STREAM_TIMELOG_EVENTS = {
  'stream-started': "Plivo reported the call's audio stream started (`StartStream`)",
  'stream-stopped': "Plivo reported the call's audio stream stopped (`StopStream`)",
} as const;
export type StreamTimelogEvent = keyof typeof STREAM_TIMELOG_EVENTS;
export const STREAM_TIMELOG_EVENT_VALUES = Object.keys(STREAM_TIMELOG_EVENTS) as [StreamTimelogEvent, ...StreamTimelogEvent[]];

/** A stream event of the call (`streamId`: Plivo's StreamID), and when the connector heard of it (ISO). */
export interface CallStreamEntry {
  readonly event: StreamTimelogEvent;
  readonly streamId: string;
  readonly at: string;
}

/**
 * What the timelog records of a call's moves between rooms (`POST /v2/sip/call/switch-room`), each firing the
 * webhook event of the same name. docs/webhooks.md lists this table (checked by a test).
 */
export const ROOM_TIMELOG_EVENTS = {
  'switch-room-initiated': 'The API accepted a move of the call from room `from` to room `to`',
  'switch-room-completed': 'The call left room `from` and joined room `to`: its `roomId` is now `to`',
  'switch-room-failed': 'The call stayed in room `from`; `reason` says why (`room-full`, `room-limit`, `participant-id-taken`, `not-live`, `unavailable`, `expired`, `timeout`)',
} as const;
export type RoomTimelogEvent = keyof typeof ROOM_TIMELOG_EVENTS;
export const ROOM_TIMELOG_EVENT_VALUES = Object.keys(ROOM_TIMELOG_EVENTS) as [RoomTimelogEvent, ...RoomTimelogEvent[]];

/**
 * Why a switch of rooms failed: the limit room `to` was at, the participant id asked for was taken there, the call
 * ended (or moved) meanwhile, its media server could not do it (or the API could not hand it the command), the command
 * waited too long to be run, or no outcome came at all within SWITCH_ROOM_TIMEOUT_MS (the sweeper's verdict: the media
 * server died or lost the command).
 */
export const SWITCH_FAILURES = ['room-full', 'room-limit', 'participant-id-taken', 'not-live', 'unavailable', 'expired', 'timeout'] as const;
export type SwitchFailure = (typeof SWITCH_FAILURES)[number];

/** A move of the call between rooms (ISO `at`, when it happened); `reason` on a failed one. */
export interface CallRoomEntry {
  readonly event: RoomTimelogEvent;
  readonly from: string;
  readonly to: string;
  readonly at: string;
  readonly reason?: SwitchFailure;
}

/** A timelog entry: a status change, a stream event, or a move between rooms. */
export type CallTimelogEntry = CallStatusEntry | CallStreamEntry | CallRoomEntry;

/** Whether a timelog entry is a move between rooms. */
export const isRoomEntry = (entry: CallTimelogEntry): entry is CallRoomEntry => 'from' in entry;

/**
 * The last trouble Plivo reported with the call's audio stream: `degraded` (the connector reads too slowly and
 * Plivo's 40 s buffer is filling: it reports at 30, 60 and 90 %) or `dropped` (Plivo gave the stream up).
 * `degradedCount` counts every DegradedStream report of the call, over all its streams.
 */
export interface StreamHealth {
  readonly status: 'degraded' | 'dropped';
  readonly streamId: string;
  readonly at: string;
  readonly degradedCount: number;
}

/**
 * A call as recorded: one per (tenant, Plivo CallUUID). `claimRef` is internal and never shown. An outbound call is
 * recorded before Plivo names it: its id is random and its `callUuid` null until Plivo's first callback.
 */
export interface CallRecord {
  readonly id: string;
  readonly tenant: string;
  readonly type: CallType;
  readonly callUuid: string | null;
  /** An outbound call's Make Call `request_uuid`: how Plivo cancels it before it has a CallUUID. */
  readonly requestUuid?: string;
  readonly provider: ProviderId;
  readonly connectorId: string;
  readonly ruleId: string | null;
  readonly roomId: string | null;
  readonly region: string | null;
  /** The numbers as Plivo sent them; shown masked when `hidePhoneNumber` (`toCallView`). */
  readonly from: string;
  readonly to: string;
  /** Set from the routing rule that matched: the numbers are masked wherever the call is shown. False when absent. */
  readonly hidePhoneNumber: boolean;
  readonly status: CallStatus;
  /**
   * Every status the call has had, its stream's starts and stops and its moves between rooms, oldest first; the last
   * status entry is `status`. Stream entries stop being added past MAX_STREAM_REPORTS reports, moves past
   * MAX_ROOM_SWITCHES switches (core/calls/store.ts).
   */
  readonly timelog: readonly CallTimelogEntry[];
  readonly startedAt: string;
  readonly answeredAt: string | null;
  readonly endedAt: string | null;
  readonly durationSeconds: number | null;
  readonly hangupReason: string | null;
  /** Plivo's `HangupCauseCode`, when its hangup ended the call. */
  readonly hangupCause: string | null;
  /** Null when the call's rule has no agent. */
  readonly agentStatus: AgentStatus | null;
  /** Null until Plivo reports its stream degraded or dropped. */
  readonly stream: StreamHealth | null;
  readonly claimRef: string | null;
  /** What the call was placed with (`POST /v2/sip/call`'s `metadata`); empty for inbound calls. */
  readonly metadata: Readonly<Record<string, string>>;
  /** An outbound call's participant id and name in its room, when it was placed with them. */
  readonly participant?: CallParticipant;
  /** The call's last transfer, if it was ever transferred. */
  readonly transfer?: CallTransfer;
  /** The media server holding the call's stream, once it is answered: where commands for it go (switch-room). */
  readonly mediaServer?: string;
  /** The id of the switch-room command that awaits its outcome (`-completed` or `-failed`), while one does. */
  readonly pendingSwitch?: string;
  /** Its call recordings (`rec_…`), oldest first, once one is made. */
  readonly recordings?: readonly string[];
  /** An outbound call placed with `recordAudio: true`: its claim tells the media server to record it. */
  readonly record?: true;
}

/** The call as `GET /v2/sip/call/{id}` and every webhook delivery's `data` show it (core/calls/schema.ts). */
export interface CallView {
  readonly id: string;
  readonly type: CallType;
  readonly status: CallStatus;
  readonly from: string;
  readonly to: string;
  readonly roomId: string | null;
  readonly ruleId: string | null;
  readonly connectorId: string;
  readonly provider: ProviderId;
  readonly region: string | null;
  readonly start: string;
  readonly end: string | null;
  readonly timelog: readonly CallTimelogEntry[];
  /** What an outbound call was placed with; empty otherwise. Always an object, so clients can read it. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly additionalDetails: {
    /** Plivo's CallUUID; null while an outbound call waits for Plivo's first callback. */
    readonly callUuid: string | null;
    readonly answeredAt: string | null;
    readonly hangupReason: string | null;
    readonly hangupCause: string | null;
    readonly durationSeconds: number | null;
    readonly agentStatus: AgentStatus | null;
    readonly stream: StreamHealth | null;
    /** The last transfer (`to` masked as `from` is), or null. */
    readonly transfer: CallTransfer | null;
    /** Its call recordings' ids (`GET /v2/recordings/{id}`), oldest first; empty when none. */
    readonly recordings: readonly string[];
  };
}

/**
 * The call as it is shown, to the tenant's API and to its webhooks alike: numbers masked when `hidePhoneNumber` (so a
 * delivery's `data` is what `GET /v2/sip/call/{id}` answered at that moment), internal fields left out.
 */
export function toCallView(call: CallRecord): CallView {
  const shown = (n: string) => (call.hidePhoneNumber ? maskNumber(n) : n);
  return {
    id: call.id,
    type: call.type,
    status: call.status,
    from: shown(call.from),
    to: shown(call.to),
    roomId: call.roomId,
    ruleId: call.ruleId,
    connectorId: call.connectorId,
    provider: call.provider,
    region: call.region,
    start: call.startedAt,
    end: call.endedAt,
    timelog: call.timelog,
    metadata: call.metadata,
    additionalDetails: {
      callUuid: call.callUuid,
      answeredAt: call.answeredAt,
      hangupReason: call.hangupReason,
      hangupCause: call.hangupCause,
      durationSeconds: call.durationSeconds,
      agentStatus: call.agentStatus,
      stream: call.stream,
      transfer: call.transfer ? { ...call.transfer, to: shown(call.transfer.to) } : null,
      recordings: call.recordings ?? [],
    },
  };
}

/** A phone number with all but a leading `+` and its last 4 digits as `*`: `+14155550100` -> `+*******0100`. */
export function maskNumber(number: string): string {
  const plus = number.startsWith('+') ? '+' : '';
  const rest = number.slice(plus.length);
  return plus + '*'.repeat(Math.max(0, rest.length - 4)) + rest.slice(-4);
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/** An outbound call's id: random, as Plivo names the call only later (`callUuid`). */
export function newCallId(): string {
  const bytes = randomBytes(20);
  return `call_${Array.from(bytes, (byte) => CROCKFORD[byte & 31]).join('')}`;
}

/**
 * An inbound call's id follows from its CallUUID (100 bits of its SHA-256), so a retried Answer URL request
 * finds the record its first attempt wrote with one conditional write, no lookup index.
 */
export function callIdFor(callUuid: string): string {
  const digest = createHash('sha256').update(callUuid, 'utf8').digest();
  let out = '';
  for (let i = 0; i < 20; i++) {
    const bit = i * 5;
    const value = ((digest.readUInt16BE(bit >> 3) >> (11 - (bit & 7))) & 31) >>> 0;
    out += CROCKFORD[value];
  }
  return `call_${out}`;
}
