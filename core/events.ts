import { toCallView, type CallRecord, type CallView } from './calls/model';
import type { Logger } from './log';

/** Lifecycle events of a call, as webhooks carry them (a webhook subscribes to all of them by default). */
export const CALL_EVENT_TYPES = ['call-started', 'call-answered', 'call-hangup', 'call-missed'] as const;
export type CallEventType = (typeof CALL_EVENT_TYPES)[number];

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
  const at = type === 'call-started' ? call.startedAt : type === 'call-answered' ? call.answeredAt : call.endedAt;
  return { type, tenant: call.tenant, call: toCallView(call), timestamp: at ?? call.startedAt };
}

/** One structured log line per event (`msg: "call event"`), with the call and room ids. */
export function logEvent(log: Logger, event: CallEvent): void {
  log.info('call event', {
    event: event.type,
    tenant: event.tenant,
    callId: event.call.id,
    callUuid: event.call.callUuid,
    connectorId: event.call.connectorId,
    roomId: event.call.roomId,
    status: event.call.status,
    hangupReason: event.call.hangupReason,
  });
}
