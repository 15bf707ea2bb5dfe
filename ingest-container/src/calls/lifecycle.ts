import type { AgentStatus, CallRoomEntry } from '../../../core/calls/model';
import { callEnd, endAsMediaFailure, type CallStore } from '../../../core/calls/store';
import { CALL_EVENT_TYPES, callEvent, outboxes, type CallEventSink, type CallEventType, type EventSubscriptions } from '../../../core/events';
import type { Logger } from '../../../core/log';

/** Why a call's stream ended, as recorded in `hangupReason`. */
export type EndReason =
  | 'caller-hangup'
  | 'kicked'
  /** Its room was deactivated (`POST /v2/rooms/deactivate`). */
  | 'room-deactivated'
  | 'error'
  | 'server-shutdown'
  | 'start-timeout'
  | 'call-mismatch'
  /** An outbound call's `participant.id` was another participant's in its room. */
  | 'participant-id-taken'
  | 'flood'
  | 'media-failure'
  /** The room had `MAX_PARTICIPANTS_PER_ROOM` seats taken. */
  | 'room-full'
  /** The tenant had `MAX_ROOMS_PER_TENANT` rooms on the room's media server. */
  | 'room-limit'
  /** The tenant had `MAX_CONNECTIONS_PER_TENANT` connections on the media server the stream reached. */
  | 'connection-limit'
  /** The media server the stream reached had `MAX_CONNECTIONS` connections. */
  | 'server-full';

/**
 * Moves call records as their streams join and leave, and emits the matching events. A change waits in the outbox
 * for its event when the tenant's webhooks subscribe to it: when the call's claim says so (`subscribed`, what they
 * were when the call was routed; all of them when a caller does not say), or `subscriptions` says so now.
 */
export class CallLifecycle {
  constructor(
    private readonly deps: {
      readonly calls: CallStore;
      readonly events: CallEventSink;
      /** The tenant's subscriptions now (the publisher's cache): a webhook created during a call gets its later events. */
      readonly subscriptions?: EventSubscriptions;
      readonly retentionDays: number;
      /** The media server the calls are answered on: the sweeper closes them if it dies. */
      readonly serverId: string;
      readonly log: Logger;
    },
  ) {}

  async answered(tenant: string, callId: string, subscribed: readonly CallEventType[] = CALL_EVENT_TYPES): Promise<void> {
    const outbox = await this.outboxes(tenant, 'call-answered', subscribed);
    const call = await this.deps.calls.answer(tenant, callId, new Date().toISOString(), this.deps.serverId, outbox);
    if (call) await this.deps.events.publish(callEvent('call-answered', call), outbox);
  }

  async ended(tenant: string, callId: string, reason: EndReason, answeredAtMs: number | null, subscribed: readonly CallEventType[] = CALL_EVENT_TYPES): Promise<void> {
    const outbox = await this.outboxes(tenant, 'call-hangup', subscribed);
    const call = await this.deps.calls.streamEnded(tenant, callId, callEnd(reason, answeredAtMs), this.deps.retentionDays, outbox);
    if (call) await this.deps.events.publish(callEvent('call-hangup', call), outbox);
  }

  /** The call's media server was lost (the one holding its room died): ends it as `media-failure`. */
  async failed(tenant: string, callId: string, subscribed: readonly CallEventType[] = CALL_EVENT_TYPES): Promise<void> {
    const outbox = await this.outboxes(tenant, 'call-hangup', subscribed);
    const call = await endAsMediaFailure(this.deps.calls, tenant, callId, this.deps.retentionDays, outbox);
    if (call) await this.deps.events.publish(callEvent('call-hangup', call), outbox);
  }

  /** Records a move of the call between rooms (`entry.event`) and fires its event; false when the record refused it (the call is no longer answered in `entry.from`). */
  async roomSwitch(tenant: string, callId: string, entry: CallRoomEntry, subscribed: readonly CallEventType[] = CALL_EVENT_TYPES): Promise<boolean> {
    const outbox = await this.outboxes(tenant, entry.event, subscribed);
    const call = await this.deps.calls.switchRoom(tenant, callId, entry, outbox);
    if (call) await this.deps.events.publish(callEvent(entry.event, call), outbox);
    return call !== null;
  }

  async agentStatus(tenant: string, callId: string, status: AgentStatus): Promise<void> {
    await this.deps.calls.setAgentStatus(tenant, callId, status);
  }

  private async outboxes(tenant: string, type: CallEventType, subscribed: readonly CallEventType[]): Promise<boolean> {
    return subscribed.includes(type) || outboxes(this.deps.subscriptions, tenant, type, this.deps.log);
  }
}
