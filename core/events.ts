import { CALL_STATUSES, isRoomEntry, toCallView, type CallRecord, type CallView } from './calls/model';
import type { Logger } from './log';
import type { RecordingEventType } from './recordings/model';

/** Who fires an event: every call, outbound calls alone, or every recording (room or call). */
type FiredBy = 'all-calls' | 'outbound' | 'recordings';

/** A call's events, VideoSDK's SIP names in its order; `firedBy` says which calls fire each. */
export const CALL_EVENTS = {
  'call-started': { firedBy: 'all-calls', when: 'Inbound: the Answer URL routed the call to a room and answered with `<Stream>`; outbound: Plivo took the call (`status: "initiated"`)' },
  'call-ringing': { firedBy: 'outbound', when: 'An outbound call rings at the far end' },
  'call-answered': { firedBy: 'all-calls', when: 'Plivo opened the audio stream and it joined the room' },
  'call-update': { firedBy: 'all-calls', when: "Plivo reported the call's audio stream degraded (`DegradedStream`) or dropped (`DroppedStream`): `additionalDetails.stream` says which" },
  'call-hangup': { firedBy: 'all-calls', when: 'The call ended (`status`: `ended`; `abandoned` when Plivo hung up before the stream came; `failed` when an outbound call could not be made), or the Answer URL refused it (`rejected`); `additionalDetails.hangupReason` says why' },
  'call-missed': { firedBy: 'all-calls', when: 'Inbound: the claim expired, Plivo never opened the stream (`missed`); outbound: nobody answered (`not-answered`)' },
  'call-transfer-initiated': { firedBy: 'all-calls', when: 'A transfer of the call was asked for (`POST /v2/sip/call/transfer`)' },
  'call-transferring': { firedBy: 'all-calls', when: 'Plivo accepted the transfer: the caller leaves the room' },
  'call-transfer-ringing': { firedBy: 'all-calls', when: 'The transfer target rings' },
  'call-transfer-accepted': { firedBy: 'all-calls', when: 'The transfer target answered' },
  'call-transferred': { firedBy: 'all-calls', when: 'The call is now with the transfer target' },
  'call-transfer-failed': { firedBy: 'all-calls', when: 'The transfer did not happen: the caller is back in its room' },
  'switch-room-initiated': { firedBy: 'all-calls', when: 'The API accepted a move of the call to another room (`POST /v2/sip/call/switch-room`)' },
  'switch-room-completed': { firedBy: 'all-calls', when: 'The call left its room and joined the new one: `roomId` is the new room' },
  'switch-room-failed': { firedBy: 'all-calls', when: "The call stayed in its room: the new one was full, the call ended, its media server could not move it, or no outcome came in time (the timelog entry's `reason`)" },
} as const satisfies Record<string, { readonly firedBy: FiredBy; readonly when: string }>;

/** The events a call fires over its life. */
export type CallEventType = keyof typeof CALL_EVENTS;
export const CALL_EVENT_TYPES = Object.keys(CALL_EVENTS) as [CallEventType, ...CallEventType[]];

/**
 * Every event a tenant's webhook may subscribe to (it subscribes to all by default): a call's, then a recording's
 * (core/recordings/events.ts). docs/webhooks.md lists this table (checked by a test).
 */
export const WEBHOOK_EVENTS = {
  ...CALL_EVENTS,
  'recording-started': { firedBy: 'recordings', when: 'A recording began: `POST /v2/recordings/start`, or a call its routing rule (`recording: true`) or `recordAudio` records' },
  'recording-stopped': { firedBy: 'recordings', when: 'A recording ended and its WAV is written: `completed`, or `partial` when its media server stopped or died and the audio up to then was kept (`reason`)' },
  'recording-failed': { firedBy: 'recordings', when: 'A recording ended without a file: no audio survived, or it could not be written (`reason`)' },
} as const satisfies Record<CallEventType | RecordingEventType, { readonly firedBy: FiredBy; readonly when: string }>;

export type WebhookEventType = keyof typeof WEBHOOK_EVENTS;
export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_EVENTS) as [WebhookEventType, ...WebhookEventType[]];

export interface CallEvent {
  readonly type: CallEventType;
  readonly tenant: string;
  readonly call: CallView;
  readonly timestamp: string;
}

/** Where call events go: every tenant webhook subscribed to them (`WebhookPublisher`). */
export interface CallEventSink {
  /**
   * Never throws: a failure is logged with the whole event, and the call goes on. `outboxed`: the state change's
   * write left the event waiting in the outbox (`CallStore`), and publishing it takes it out.
   */
  publish(event: CallEvent, outboxed: boolean): Promise<void>;
}

/**
 * Which call events a tenant's webhooks subscribe to: a state change waits in the outbox for its event only then.
 * The answer may be up to the implementation's cache age old (`WebhookPublisher`: `WEBHOOK_CACHE_SECONDS`).
 */
export interface EventSubscriptions {
  subscribedEvents(tenant: string): Promise<ReadonlySet<CallEventType>>;
}

/**
 * Whether a change of a `tenant` call waits in the outbox for its `type` event: when `subscriptions` say a webhook
 * subscribes to it, and when they cannot be read (or there are none to ask), for the event is then published by the
 * sweeper if the publish after the write fails too.
 */
export async function outboxes(subscriptions: EventSubscriptions | undefined, tenant: string, type: CallEventType, log: Logger): Promise<boolean> {
  if (!subscriptions) return true;
  try {
    return (await subscriptions.subscribedEvents(tenant)).has(type);
  } catch (err) {
    log.warn('webhook subscriptions not read; the call event waits in the outbox', { tenant, event: type, err });
    return true;
  }
}

/**
 * When the latest change of `call` that fires `type` happened (a caller back in its room after a failed transfer is
 * answered twice): the timestamp of the event of the write that returned `call`, which is also what that write put in
 * the outbox (`CallStore`).
 */
export function latestEventAt(type: CallEventType, call: CallRecord): string {
  const at =
    type === 'call-update'
      ? call.stream?.at
      : call.timelog.findLast((entry) => (isRoomEntry(entry) ? entry.event === type : 'status' in entry && CALL_STATUSES[entry.status].event === type))?.at;
  return at ?? call.startedAt;
}

/**
 * The event `type` of `call`, with the timestamp of its change: `at` when given (the sweeper publishing a change the
 * outbox names, however many of its type came since), else the latest of its type (`latestEventAt`). So the event
 * reads the same whenever it is published (at once, or by the sweeper after a crash), and its deliveries have the
 * same ids.
 */
export function callEvent(type: CallEventType, call: CallRecord, at = latestEventAt(type, call)): CallEvent {
  return { type, tenant: call.tenant, call: toCallView(call), timestamp: at };
}

/** One structured log line per event (`msg: "call event"`), with the call and room ids. */
export function logEvent(log: Logger, event: CallEvent): void {
  log.info('call event', {
    event: event.type,
    tenant: event.tenant,
    callId: event.call.id,
    callUuid: event.call.additionalDetails.callUuid,
    connectorId: event.call.connectorId,
    roomId: event.call.roomId,
    status: event.call.status,
    hangupReason: event.call.additionalDetails.hangupReason,
  });
}
