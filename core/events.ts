import { toCallView, type CallRecord, type CallView } from './calls/model';
import type { Logger } from './log';
import type { Webhook } from './webhooks/model';

/** Lifecycle events of a call, as webhooks carry them. */
export type CallEventType = 'call-started' | 'call-answered' | 'call-hangup' | 'call-missed';

export interface CallEvent {
  readonly type: CallEventType;
  readonly tenant: string;
  readonly call: CallView;
  readonly timestamp: string;
}

/** Where call events go: every tenant webhook subscribed to them (`WebhookPublisher`). */
export interface CallEventSink {
  /**
   * Never throws: a failure is logged with the whole event, and the call goes on. `webhooks` are the
   * tenant's webhooks when the caller has just read them (the Answer URL does), saving a read.
   */
  publish(event: CallEvent, webhooks?: readonly Webhook[]): Promise<void>;
}

/** The event `type` of `call`, happening now. */
export function callEvent(type: CallEventType, call: CallRecord): CallEvent {
  return { type, tenant: call.tenant, call: toCallView(call), timestamp: new Date().toISOString() };
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
