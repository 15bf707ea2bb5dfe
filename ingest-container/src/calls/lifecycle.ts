import type { CallHangup } from '../../../core/calls/hangup';
import { LIVE_STATUSES, type AgentStatus, type CallRecord, type CallRoomEntry } from '../../../core/calls/model';
import { ApiError } from '../../../core/errors';
import { callEnd, endAsMediaFailure, type CallStore } from '../../../core/calls/store';
import { CALL_EVENT_TYPES, callEvent, outboxes, type CallEventSink, type CallEventType, type EventSubscriptions } from '../../../core/events';
import type { Logger } from '../../../core/log';

/** Why a call is hung up from its room: a participant's `hangup` (`kicked`), `POST /v2/sessions/participants/remove` (`removed`). */
export type RoomHangupReason = 'kicked' | 'removed';

/** Why a call's stream ended, as recorded in `hangupReason`. */
export type EndReason =
  | 'caller-hangup'
  | RoomHangupReason
  /** Its room was deactivated (`POST /v2/rooms/deactivate`). */
  | 'room-deactivated'
  /** Its room's session was ended (`POST /v2/sessions/end`). */
  | 'session-ended'
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
      /** Hangs calls up through Plivo (the room's `hangup`); without it they are hung up by closing their stream. */
      readonly hangup?: CallHangup;
      readonly log: Logger;
    },
  ) {}

  /**
   * The call is hung up from its room (`reason`): through Plivo, as `POST /v2/sip/call/end` does, its record ended with
   * `reason`. False when that cannot be (no hangup path here, the call not live, its connector without Plivo credentials, Plivo
   * refusing or silent): the caller then closes the call's stream instead, as the reason says.
   */
  async hangUp(tenant: string, callId: string, reason: RoomHangupReason): Promise<boolean> {
    const { hangup, log } = this.deps;
    const call = hangup ? await this.deps.calls.get(tenant, callId) : null;
    if (!hangup || !call || !LIVE_STATUSES.includes(call.status)) return false;
    try {
      return (await hangup.hangUp(call, reason)) !== null;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'plivo_credentials_missing') log.info('no Plivo credentials to hang the call up with: its stream is closed instead', { tenant, callId });
      else log.warn('Plivo did not hang the call up: its stream is closed instead', { tenant, callId, err: (err as Error).message });
      return false;
    }
  }

  async answered(tenant: string, callId: string, subscribed: readonly CallEventType[] = CALL_EVENT_TYPES): Promise<void> {
    const outbox = await this.outboxes(tenant, 'call-answered', subscribed);
    await this.publish('call-answered', await this.deps.calls.answer(tenant, callId, new Date().toISOString(), this.deps.serverId, outbox), outbox);
  }

  async ended(tenant: string, callId: string, reason: EndReason, answeredAtMs: number | null, subscribed: readonly CallEventType[] = CALL_EVENT_TYPES): Promise<void> {
    const outbox = await this.outboxes(tenant, 'call-hangup', subscribed);
    await this.publish('call-hangup', await this.deps.calls.streamEnded(tenant, callId, callEnd(reason, answeredAtMs), this.deps.retentionDays, outbox), outbox);
  }

  /** The call's media server was lost (the one holding its room died): ends it as `media-failure`. */
  async failed(tenant: string, callId: string, subscribed: readonly CallEventType[] = CALL_EVENT_TYPES): Promise<void> {
    const outbox = await this.outboxes(tenant, 'call-hangup', subscribed);
    await this.publish('call-hangup', await endAsMediaFailure(this.deps.calls, tenant, callId, this.deps.retentionDays, outbox), outbox);
  }

  /**
   * Records the outcome of the switch `switchId` (its command's id) of the call between rooms (`entry.event`) and fires
   * its event; false when the record refused it (the switch has its outcome already, or the call is no longer answered
   * in `entry.from`).
   */
  async roomSwitch(tenant: string, callId: string, entry: CallRoomEntry, switchId: string, subscribed: readonly CallEventType[] = CALL_EVENT_TYPES): Promise<boolean> {
    const outbox = await this.outboxes(tenant, entry.event, subscribed);
    return this.publish(entry.event, await this.deps.calls.switchRoom(tenant, callId, entry, switchId, outbox), outbox);
  }

  async agentStatus(tenant: string, callId: string, status: AgentStatus): Promise<void> {
    await this.deps.calls.setAgentStatus(tenant, callId, status);
  }

  /** Publishes the `type` event of the change a write made (`call`; null: the write changed nothing); whether it did. */
  private async publish(type: CallEventType, call: CallRecord | null, outbox: boolean): Promise<boolean> {
    if (call) await this.deps.events.publish(callEvent(type, call), outbox);
    return call !== null;
  }

  private async outboxes(tenant: string, type: CallEventType, subscribed: readonly CallEventType[]): Promise<boolean> {
    return subscribed.includes(type) || outboxes(this.deps.subscriptions, tenant, type, this.deps.log);
  }
}
