import type { AgentStatus, CallRecord } from '../../../core/calls/model';
import { callEnd, endAsMediaFailure, type CallStore } from '../../../core/calls/store';
import { callEvent, type CallEventSink, type CallEventType } from '../../../core/events';
import type { Logger } from '../../../core/log';

/** Why a call's stream ended, as recorded in `hangupReason`. */
export type EndReason =
  | 'caller-hangup'
  | 'kicked'
  | 'error'
  | 'server-shutdown'
  | 'start-timeout'
  | 'call-mismatch'
  | 'flood'
  | 'media-failure'
  /** The room had `MAX_PARTICIPANTS_PER_ROOM` seats taken. */
  | 'room-full'
  /** The tenant had `MAX_ROOMS_PER_TENANT` rooms on the room's media server. */
  | 'room-limit';

/** Moves call records as their streams join and leave, and emits the matching events. */
export class CallLifecycle {
  constructor(
    private readonly deps: {
      readonly calls: CallStore;
      readonly events: CallEventSink;
      readonly retentionDays: number;
      /** The media server the calls are answered on: the sweeper closes them if it dies. */
      readonly serverId: string;
      readonly log: Logger;
    },
  ) {}

  async answered(tenant: string, callId: string): Promise<void> {
    const call = await this.deps.calls.answer(tenant, callId, new Date().toISOString(), this.deps.serverId);
    if (call) await this.emit('call-answered', call);
  }

  async ended(tenant: string, callId: string, reason: EndReason, answeredAtMs: number | null): Promise<void> {
    const call = await this.deps.calls.end(tenant, callId, callEnd(reason, answeredAtMs), this.deps.retentionDays);
    if (call) await this.emit('call-hangup', call);
  }

  /** The call's media server was lost (the one holding its room died): ends it as `media-failure`. */
  async failed(tenant: string, callId: string): Promise<void> {
    const call = await endAsMediaFailure(this.deps.calls, tenant, callId, this.deps.retentionDays);
    if (call) await this.emit('call-hangup', call);
  }

  async agentStatus(tenant: string, callId: string, status: AgentStatus): Promise<void> {
    await this.deps.calls.setAgentStatus(tenant, callId, status);
  }

  private async emit(type: CallEventType, call: CallRecord): Promise<void> {
    await this.deps.events.publish(callEvent(type, call));
  }
}
