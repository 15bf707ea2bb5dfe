import type { CallView } from './calls/model';
import type { Logger } from './log';

/** Lifecycle events of a call, as webhooks will carry them. */
export type CallEventType = 'call-started' | 'call-answered' | 'call-hangup' | 'call-missed';

export interface CallEvent {
  readonly type: CallEventType;
  readonly tenant: string;
  readonly call: CallView;
  readonly timestamp: string;
}

/** Where call events go: webhook delivery (SQS) in the lifecycle-webhook issue; structured logs now. */
export interface CallEventSink {
  publish(event: CallEvent): Promise<void>;
}

/** Writes every event as one structured log line (`msg: "call event"`), with the call and room ids. */
export function logEventSink(log: Logger): CallEventSink {
  return {
    publish: (event) => {
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
      return Promise.resolve();
    },
  };
}
