import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { isRoomEntry } from './calls/model';
import { callEnd, endAsMediaFailure, type CallStore } from './calls/store';
import { overdue, unpublished, type Item } from './dynamo';
import { callEvent, outboxes, type CallEventSink, type EventSubscriptions } from './events';
import type { Logger } from './log';
import type { MediaServerRecord, PlacementStore } from './placement';
import type { DeliveryRef } from './webhooks/model';
import type { DeliveryQueue } from './webhooks/queue';
import { deliveryRefOf, type DeliveryStore } from './webhooks/store';

/** Items read from the `due` index per query; a sweep reads until it has caught up, up to ROUNDS queries. */
const BATCH = 100;
const ROUNDS = 10;
/** Answered calls fall due at their answer time: every one of a dead server's is due by now. */
const ALL_OF_THEM = new Date('9999-12-31T00:00:00Z');
/** The lease of a server record that does not say (PLACEMENT_LEASE_SECONDS' default). */
const DEFAULT_LEASE_MS = 15_000;

/** The tenant and id of each call the index keys name (`T#<tenant>`, `CALL#<id>`); other items are left out. */
function callsOf(keys: readonly Item[]): { tenant: string; id: string }[] {
  return keys.flatMap((key) => {
    const tenant = key.pk?.S?.replace(/^T#/, '');
    const id = key.sk?.S?.replace(/^CALL#/, '');
    return tenant && id ? [{ tenant, id }] : [];
  });
}

/**
 * Finishes work nobody else will: calls whose stream never started (claim expired) end as `missed`
 * with a `call-missed` event; calls answered on a media server whose lease lapsed and stayed lapsed (it
 * died, or exited before they ended) end as `media-failure` with a `call-hangup` event; and pending
 * deliveries whose queue message was lost (a crash, a restart of the local stack's in-memory queue) are
 * queued again; calls whose state changed but whose event was never recorded for the webhooks (the process
 * died between the two writes) have it published; and switches of rooms that no media server settled in time fail.
 * Runs every minute in AWS, every `SWEEP_INTERVAL_SECONDS` (5 s) locally.
 */
export class Sweeper {
  /** Lapsed server leases seen by earlier sweeps: the lease, and when this sweeper first saw it lapsed. */
  private readonly lapses = new Map<string, { readonly leaseExpiresAtMs: number; readonly seenAtMs: number }>();

  constructor(
    private readonly deps: {
      readonly dynamo: DynamoDBClient;
      readonly tableName: string;
      readonly calls: CallStore;
      readonly deliveries: DeliveryStore;
      readonly queue: DeliveryQueue;
      /** Publishes the events, and says which a tenant subscribes to: only those wait in the outbox. */
      readonly events: CallEventSink & EventSubscriptions;
      /** How long after a call's state change its event, not yet recorded, counts as lost with a crash. */
      readonly unpublishedAfterSeconds: number;
      readonly retentionDays: number;
      /** The media regions' placement stores (one per distinct table), whose server records are watched. */
      readonly placements: readonly PlacementStore[];
      readonly log: Logger;
    },
  ) {}

  async sweep(now: Date = new Date()): Promise<{ missed: number; requeued: number; failed: number; republished: number; switchesTimedOut: number }> {
    let missed = 0;
    let requeued = 0;
    let republished = 0;
    let switchesTimedOut = 0;
    let failed = 0;
    const lostBefore = new Date(now.getTime() - this.deps.unpublishedAfterSeconds * 1000);
    for (let round = 0; round < ROUNDS; round++) {
      const [calls, deliveries, events, switches] = await Promise.all([
        overdue(this.deps.dynamo, this.deps.tableName, 'call', now, BATCH),
        overdue(this.deps.dynamo, this.deps.tableName, 'delivery', now, BATCH),
        unpublished(this.deps.dynamo, this.deps.tableName, lostBefore, BATCH),
        overdue(this.deps.dynamo, this.deps.tableName, 'switch', now, BATCH),
      ]);
      missed += await this.missCalls(calls);
      requeued += await this.requeue(deliveries, now);
      republished += await this.republish(events);
      // Before the servers' calls: a switch's call is back under its server once its switch has failed.
      const switched = await this.timeOutSwitches(switches, now);
      switchesTimedOut += switched.timedOut;
      failed += switched.closed;
      if (calls.length < BATCH && deliveries.length < BATCH && events.length < BATCH && switches.length < BATCH) break;
    }
    const lapsed = new Set<string>();
    for (const placements of this.deps.placements) {
      for (const server of await placements.servers()) {
        if (server.leaseExpiresAtMs >= now.getTime()) continue;
        lapsed.add(server.serverId);
        if (!this.isGone(server, now.getTime())) continue;
        const closed = await this.closeCallsOf(server);
        failed += closed.count;
        if (closed.done) await placements.forgetServer(server.serverId, server.leaseExpiresAtMs);
      }
    }
    for (const serverId of this.lapses.keys()) if (!lapsed.has(serverId)) this.lapses.delete(serverId);
    if (missed || requeued || failed || republished || switchesTimedOut) this.deps.log.info('sweep', { missed, requeued, failed, republished, switchesTimedOut });
    return { missed, requeued, failed, republished, switchesTimedOut };
  }

  /**
   * Fails the switches of rooms that had no outcome within SWITCH_ROOM_TIMEOUT_MS (`switch-room-failed`, `timeout`): the
   * media server holding the call died, or lost its command. One conditional write on the pending switch: a completion
   * that comes after it is not recorded, nor is this after a completion. A call whose server is gone and forgotten
   * meanwhile (its calls were closed while this one was due as a switch) is closed now.
   */
  private async timeOutSwitches(keys: readonly Item[], now: Date): Promise<{ timedOut: number; closed: number }> {
    let timedOut = 0;
    let closed = 0;
    const known = keys.length ? new Set((await Promise.all(this.deps.placements.map((placements) => placements.servers()))).flat().map((server) => server.serverId)) : new Set<string>();
    for (const { tenant, id } of callsOf(keys)) {
      const call = await this.deps.calls.get(tenant, id);
      const asked = call?.timelog.findLast((entry) => isRoomEntry(entry) && entry.event === 'switch-room-initiated');
      if (!call?.pendingSwitch || !asked || !isRoomEntry(asked)) continue;
      const outbox = await outboxes(this.deps.events, tenant, 'switch-room-failed', this.deps.log);
      const entry = { event: 'switch-room-failed', from: asked.from, to: asked.to, at: now.toISOString(), reason: 'timeout' } as const;
      const failed = await this.deps.calls.switchRoom(tenant, id, entry, call.pendingSwitch, outbox);
      if (!failed) continue;
      timedOut++;
      this.deps.log.warn('switch-room timed out: no media server recorded its outcome; the call stays in its room', { tenant, callId: id, from: asked.from, to: asked.to, commandId: call.pendingSwitch, mediaServer: call.mediaServer });
      await this.deps.events.publish(callEvent('switch-room-failed', failed), outbox);
      if (failed.status === 'answered' && failed.mediaServer && !known.has(failed.mediaServer) && (await this.closeCall(tenant, id, failed.mediaServer, 'forgotten'))) closed++;
    }
    return { timedOut, closed };
  }

  /** Publishes the events of calls whose state changed while the writer died before recording them. */
  private async republish(keys: readonly Item[]): Promise<number> {
    let count = 0;
    for (const { tenant, id } of callsOf(keys)) {
      const pending = await this.deps.calls.pendingEvents(tenant, id);
      if (!pending) continue;
      // Its events were recorded but the writer died before taking it out of the index: only that is left to do.
      if (!pending.events.length) await this.deps.calls.eventRecorded(tenant, id, 'call-started');
      for (const type of pending.events) {
        this.deps.log.warn('call event was never recorded for webhooks; publishing it now', { tenant, callId: id, event: type });
        await this.deps.events.publish(callEvent(type, pending.call), true);
        count++;
      }
    }
    return count;
  }

  /**
   * Whether a server whose lease lapsed is gone for sure. One that stopped said so itself. Otherwise the lapse
   * counts only once this sweeper has seen it, unchanged, for a whole lease more: after a database outage every
   * lease has lapsed, the sweeper's first sweep that succeeds sees them all, and the servers, alive with their
   * calls, renew within a third of their lease once the table answers. (A cold sweeper waits one sweep more.)
   */
  private isGone(server: MediaServerRecord, nowMs: number): boolean {
    if (server.state === 'stopped') return true;
    const seen = this.lapses.get(server.serverId);
    if (seen?.leaseExpiresAtMs !== server.leaseExpiresAtMs) {
      this.lapses.set(server.serverId, { leaseExpiresAtMs: server.leaseExpiresAtMs, seenAtMs: nowMs });
      return false;
    }
    return nowMs - seen.seenAtMs >= (server.leaseMs ?? DEFAULT_LEASE_MS);
  }

  /** Ends the calls still answered on a server whose lease lapsed; `done` once none is left. */
  private async closeCallsOf(server: MediaServerRecord): Promise<{ count: number; done: boolean }> {
    let count = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const keys = await overdue(this.deps.dynamo, this.deps.tableName, `server#${server.serverId}`, ALL_OF_THEM, BATCH);
      for (const { tenant, id } of callsOf(keys)) if (await this.closeCall(tenant, id, server.serverId, server.state)) count++;
      if (keys.length < BATCH) return { count, done: true };
    }
    return { count, done: false };
  }

  /** Ends a call still answered on a server that is gone as `media-failure`, with its `call-hangup`; false when it had ended. */
  private async closeCall(tenant: string, id: string, serverId: string, serverState: string): Promise<boolean> {
    const outbox = await outboxes(this.deps.events, tenant, 'call-hangup', this.deps.log);
    const call = await endAsMediaFailure(this.deps.calls, tenant, id, this.deps.retentionDays, outbox);
    if (!call) return false;
    this.deps.log.warn('call closed: its media server is gone', { tenant, callId: id, roomId: call.roomId, serverId, serverState });
    await this.deps.events.publish(callEvent('call-hangup', call), outbox);
    return true;
  }

  private async missCalls(keys: readonly Item[]): Promise<number> {
    let missed = 0;
    for (const { tenant, id } of callsOf(keys)) {
      // Null when the stream came (or Plivo hung up) after the index was read: nothing to do. An inbound call is
      // `missed`; an outbound one Plivo never called back about (nor answered) is `not-answered`.
      const outbox = await outboxes(this.deps.events, tenant, 'call-missed', this.deps.log);
      const endedAt = new Date();
      const call =
        (await this.deps.calls.miss(tenant, id, endedAt.toISOString(), this.deps.retentionDays, outbox)) ??
        (await this.deps.calls.unanswered(tenant, id, 'not-answered', callEnd('no-callback', null, endedAt), this.deps.retentionDays, outbox));
      if (!call) continue;
      missed++;
      this.deps.log.info('call missed: its stream never started', { tenant, callId: id, roomId: call.roomId, status: call.status });
      await this.deps.events.publish(callEvent('call-missed', call), outbox);
    }
    return missed;
  }

  private async requeue(keys: readonly Item[], now: Date): Promise<number> {
    const refs: DeliveryRef[] = [];
    for (const key of keys) {
      const ref = deliveryRefOf(key);
      const delivery = ref && (await this.deps.deliveries.get(ref));
      // The index lags the table: only a delivery still pending and still overdue is requeued.
      if (!ref || !delivery || delivery.status !== 'pending' || Date.parse(this.deps.deliveries.dueAt(delivery)) > now.getTime()) continue;
      const updatedAt = new Date(Math.max(now.getTime(), Date.parse(delivery.updatedAt) + 1)).toISOString();
      if (await this.deps.deliveries.replace({ ...delivery, nextAttemptAt: null, updatedAt }, delivery.updatedAt)) refs.push(ref);
    }
    if (refs.length) {
      await this.deps.queue.send(refs);
      this.deps.log.warn('pending deliveries were overdue and are queued again', { deliveries: refs.map((r) => r.deliveryId) });
    }
    return refs.length;
  }
}
