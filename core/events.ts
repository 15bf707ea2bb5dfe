import { isRoomEntry, toCallView, type CallRecord, type CallView } from './calls/model';
import type { Logger } from './log';

/**
 * Every webhook event, VideoSDK's SIP names in its order: all of them may be subscribed to (a webhook subscribes to
 * all by default); `firedBy` says which calls fire it today: `all-calls`, `inbound` or `outbound` ones, or none yet
 * (`call-control`: transfers). docs/webhooks.md lists this table (checked by a test).
 */
export const WEBHOOK_EVENTS = {
  'call-started': { firedBy: 'all-calls', when: 'Inbound: the Answer URL routed the call to a room and answered with `<Stream>`; outbound: Plivo took the call (`status: "initiated"`)' },
  'call-ringing': { firedBy: 'outbound', when: 'An outbound call rings at the far end' },
  'call-answered': { firedBy: 'all-calls', when: 'Plivo opened the audio stream and it joined the room' },
  'call-update': { firedBy: 'all-calls', when: "Plivo reported the call's audio stream degraded (`DegradedStream`) or dropped (`DroppedStream`): `additionalDetails.stream` says which" },
  'call-hangup': { firedBy: 'all-calls', when: 'The call ended (`status`: `ended`; `abandoned` when Plivo hung up before the stream came; `failed` when an outbound call could not be made), or the Answer URL refused it (`rejected`); `additionalDetails.hangupReason` says why' },
  'call-missed': { firedBy: 'all-calls', when: 'Inbound: the claim expired, Plivo never opened the stream (`missed`); outbound: nobody answered (`not-answered`)' },
  'call-transfer-initiated': { firedBy: 'call-control', when: 'A transfer of the call was asked for' },
  'call-transferring': { firedBy: 'call-control', when: 'The transfer is under way' },
  'call-transfer-ringing': { firedBy: 'call-control', when: 'The transfer target rings' },
  'call-transfer-accepted': { firedBy: 'call-control', when: 'The transfer target answered' },
  'call-transferred': { firedBy: 'call-control', when: 'The call is now with the transfer target' },
  'call-transfer-failed': { firedBy: 'call-control', when: 'The transfer did not happen' },
  'switch-room-initiated': { firedBy: 'all-calls', when: 'The API accepted a move of the call to another room (`POST /v2/sip/call/switch-room`)' },
  'switch-room-completed': { firedBy: 'all-calls', when: 'The call left its room and joined the new one: `roomId` is the new room' },
  'switch-room-failed': { firedBy: 'all-calls', when: "The call stayed in its room: the new one was full, the call ended, or its media server could not move it (the timelog entry's `reason`)" },
} as const satisfies Record<string, { readonly firedBy: 'all-calls' | 'inbound' | 'outbound' | 'call-control'; readonly when: string }>;

export type WebhookEventType = keyof typeof WEBHOOK_EVENTS;
export const WEBHOOK_EVENT_TYPES = Object.keys(WEBHOOK_EVENTS) as [WebhookEventType, ...WebhookEventType[]];

/** The events calls fire today: an inbound or outbound call's lifecycle. */
export type CallEventType = { [K in WebhookEventType]: (typeof WEBHOOK_EVENTS)[K]['firedBy'] extends 'call-control' ? never : K }[WebhookEventType];
export const CALL_EVENT_TYPES = WEBHOOK_EVENT_TYPES.filter((type): type is CallEventType => WEBHOOK_EVENTS[type].firedBy !== 'call-control') as [CallEventType, ...CallEventType[]];

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
 * The event `type` of `call`, as its record tells it: the timestamp is that of the change, so the event reads
 * the same whenever it is published (at once, or by the sweeper after a crash).
 */
export function callEvent(type: CallEventType, call: CallRecord): CallEvent {
  const at =
    type === 'call-started'
      ? call.startedAt
      : type === 'call-answered'
        ? call.answeredAt
        : type === 'call-ringing'
          ? ringingAt(call)
          : type === 'call-update'
            ? call.stream?.at
            : type.startsWith('switch-room-')
              ? call.timelog.findLast((entry) => isRoomEntry(entry) && entry.event === type)?.at
              : call.endedAt;
  return { type, tenant: call.tenant, call: toCallView(call), timestamp: at ?? call.startedAt };
}

const ringingAt = (call: CallRecord): string | undefined => call.timelog.find((entry) => 'status' in entry && entry.status === 'ringing')?.at;

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
