import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { isRoomEntry } from './calls/model';
import { callEnd, endAsMediaFailure, type CallStore } from './calls/store';
import { overdue, unpublished, type Item, type KeysPage } from './dynamo';
import { callEvent, outboxes, type CallEventSink, type EventSubscriptions } from './events';
import type { Logger } from './log';
import type { MediaServerRecord, PlacementStore } from './placement';
import { endEvent, type RecordingEventSink } from './recordings/events';
import type { RecordingObjects } from './recordings/objects';
import type { RecordingStore } from './recordings/store';
import { roomName } from './room-records/model';
import { participantEvent, sessionEvent, type SessionEventSink } from './sessions/events';
import { sessionRefOf, sessionsOf, type SessionStore } from './sessions/store';
import type { DeliveryRef } from './webhooks/model';
import type { DeliveryQueue } from './webhooks/queue';
import { deliveryRefOf, type DeliveryStore } from './webhooks/store';

/** Items read from an index per query; a sweep reads each index until it has caught up, up to ROUNDS queries. */
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
 * died between the two writes) have it published; switches of rooms that no media server settled in time fail; and
 * the room sessions a dead media server left ongoing end, their participants' open stays closed, as of the sweep, with
 * their `participant-left` and `session-ended` events; and its recordings end `partial`, with what its segments held.
 * Runs every minute in AWS, every `SWEEP_INTERVAL_SECONDS` (5 s) locally.
 */
export class Sweeper {
  /** Lapsed server leases seen by earlier sweeps: the lease, and when this sweeper first saw it lapsed. */
  private readonly lapses = new Map<string, { readonly leaseExpiresAtMs: number; readonly seenAtMs: number }>();
  /** Calls this sweeper could not finish (each logged), ever: a server with one left is not forgotten. */
  private failures = 0;

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
      /** Room sessions: those a dead server left ongoing are ended. */
      readonly sessions: Pick<SessionStore, 'endLeftBehind' | 'forgetLeftBehind'>;
      /** Where their `participant-left` and `session-ended` go (`RoomWebhookPublisher`); `settled` once they are recorded. */
      readonly roomEvents: SessionEventSink & { settled(): Promise<void> };
      /** Recordings a dead server left `recording`: assembled from their segments in its region's bucket, ended `partial`. */
      readonly recordings: {
        readonly store: Pick<RecordingStore, 'leftBehind' | 'finish'>;
        readonly objects: (awsRegion: string, bucket: string) => RecordingObjects;
        readonly events: RecordingEventSink;
      };
      readonly log: Logger;
    },
  ) {}

  async sweep(now: Date = new Date()): Promise<{ missed: number; requeued: number; failed: number; republished: number; switchesTimedOut: number }> {
    const { dynamo, tableName } = this.deps;
    const lostBefore = new Date(now.getTime() - this.deps.unpublishedAfterSeconds * 1000);
    const { count: missed } = await this.walk((start) => overdue(dynamo, tableName, 'call', now, BATCH, start), (keys) => this.missCalls(keys));
    const { count: requeued } = await this.walk((start) => overdue(dynamo, tableName, 'delivery', now, BATCH, start), (keys) => this.requeue(keys, now));
    const { count: republished } = await this.walk((start) => unpublished(dynamo, tableName, lostBefore, BATCH, start), (keys) => this.republish(keys));
    // Before the servers' calls: a switch's call is back under its server once its switch has failed.
    const closedAfterSwitch = { count: 0 };
    const { count: switchesTimedOut } = await this.walk((start) => overdue(dynamo, tableName, 'switch', now, BATCH, start), (keys) => this.timeOutSwitches(keys, now, closedAfterSwitch));
    let failed = closedAfterSwitch.count;
    const lapsed = new Set<string>();
    for (const placements of this.deps.placements) {
      for (const server of await placements.servers()) {
        if (server.leaseExpiresAtMs >= now.getTime()) continue;
        lapsed.add(server.serverId);
        if (!this.isGone(server, now.getTime())) continue;
        const closed = await this.closeCallsOf(server);
        failed += closed.count;
        const sessionsEnded = await this.endSessionsOf(server, now);
        const recordingsFinished = await this.finishRecordingsOf(server, now);
        if (closed.done && sessionsEnded && recordingsFinished) await placements.forgetServer(server.serverId, server.leaseExpiresAtMs);
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
   * meanwhile (its calls were closed while this one was due as a switch) is closed now, counted in `closed`.
   */
  private async timeOutSwitches(keys: readonly Item[], now: Date, closed: { count: number }): Promise<number> {
    const known = keys.length ? new Set((await Promise.all(this.deps.placements.map((placements) => placements.servers()))).flat().map((server) => server.serverId)) : new Set<string>();
    return this.eachCall(keys, 'time out a switch of rooms', async (tenant, id) => {
      const call = await this.deps.calls.get(tenant, id);
      const asked = call?.timelog.findLast((entry) => isRoomEntry(entry) && entry.event === 'switch-room-initiated');
      if (!call?.pendingSwitch || !asked || !isRoomEntry(asked)) return false;
      const outbox = await outboxes(this.deps.events, tenant, 'switch-room-failed', this.deps.log);
      const entry = { event: 'switch-room-failed', from: asked.from, to: asked.to, at: now.toISOString(), reason: 'timeout' } as const;
      const failed = await this.deps.calls.switchRoom(tenant, id, entry, call.pendingSwitch, outbox);
      if (!failed) return false;
      this.deps.log.warn('switch-room timed out: no media server recorded its outcome; the call stays in its room', { tenant, callId: id, from: asked.from, to: asked.to, commandId: call.pendingSwitch, mediaServer: call.mediaServer });
      await this.deps.events.publish(callEvent('switch-room-failed', failed), outbox);
      if (failed.status === 'answered' && failed.mediaServer && !known.has(failed.mediaServer) && (await this.closeCall(tenant, id, failed.mediaServer, 'forgotten'))) closed.count++;
      return true;
    });
  }

  /**
   * Reads an index page by page, from where the last page ended (an item that cannot be finished does not hold up
   * those behind it), up to ROUNDS pages; `handle` says how many of each page's items it finished. `done` when the
   * index was read to its end.
   */
  private async walk(read: (start?: Item) => Promise<KeysPage>, handle: (keys: readonly Item[]) => Promise<number>): Promise<{ count: number; done: boolean }> {
    let count = 0;
    let start: Item | undefined;
    for (let round = 0; round < ROUNDS; round++) {
      const page = await read(start);
      count += await handle(page.keys);
      if (!page.next) return { count, done: true };
      start = page.next;
    }
    return { count, done: false };
  }

  /** Runs `finish` for each call the keys name, one at a time; one that throws is logged and the others go on. */
  private async eachCall(keys: readonly Item[], what: string, finish: (tenant: string, id: string) => Promise<boolean>): Promise<number> {
    let count = 0;
    for (const { tenant, id } of callsOf(keys)) {
      try {
        if (await finish(tenant, id)) count++;
      } catch (err) {
        this.failures++;
        this.deps.log.error(`sweep: could not ${what}; the next sweep tries again`, { tenant, callId: id, err });
      }
    }
    return count;
  }

  /** Publishes the events of calls whose state changed while the writer died before recording them. */
  private republish(keys: readonly Item[]): Promise<number> {
    return this.eachCall(keys, 'publish the events of a call', async (tenant, id) => {
      const pending = await this.deps.calls.pendingEvents(tenant, id);
      if (!pending) return false;
      // Its events were recorded but the writer died before taking it out of the index: only that is left to do.
      if (!pending.events.length) await this.deps.calls.leaveOutbox(tenant, id);
      // Each change with its own timestamp: two of one type are two events, and one delivered already writes no twin.
      for (const { type, at } of pending.events) {
        this.deps.log.warn('call event was never recorded for webhooks; publishing it now', { tenant, callId: id, event: type, at });
        await this.deps.events.publish(callEvent(type, pending.call, at), true);
      }
      return pending.events.length > 0;
    });
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
    const read = (start?: Item) => overdue(this.deps.dynamo, this.deps.tableName, `server#${server.serverId}`, ALL_OF_THEM, BATCH, start);
    const failuresBefore = this.failures;
    const closed = await this.walk(read, (keys) =>
      this.eachCall(keys, 'close a call of a media server that is gone', (tenant, id) => this.closeCall(tenant, id, server.serverId, server.state)),
    );
    // A call that could not be closed keeps the server watched.
    return { count: closed.count, done: closed.done && this.failures === failuresBefore };
  }

  /**
   * Ends the sessions a server that is gone left ongoing (its rooms went with it), each participant's open stay closed
   * at `now`, and fires `participant-left` for each stay it closed, then `session-ended`, as the server would have. A
   * session leaves the server's `due` index only once its events are recorded (or their failure logged): a sweep that
   * fails or dies before that is tried again, publishing the same events (same ids: no twin delivery). Whether none is
   * left.
   */
  private async endSessionsOf(server: MediaServerRecord, now: Date): Promise<boolean> {
    const read = (start?: Item) => overdue(this.deps.dynamo, this.deps.tableName, sessionsOf(server.serverId), ALL_OF_THEM, BATCH, start);
    let ended = true;
    const { done } = await this.walk(read, async (keys) => {
      let count = 0;
      for (const ref of keys.map(sessionRefOf)) {
        if (!ref) continue;
        try {
          const leftBehind = await this.deps.sessions.endLeftBehind(ref.tenant, ref.id, now.toISOString());
          if (!leftBehind) continue;
          const { session, left } = leftBehind;
          const end = session.end ?? now.toISOString();
          const room = roomName(session);
          for (const { participant, entry } of left) this.deps.roomEvents.publish(participantEvent('participant-left', room, session, participant, entry, end));
          this.deps.roomEvents.publish(sessionEvent('session-ended', room, session, end));
          await this.deps.roomEvents.settled();
          await this.deps.sessions.forgetLeftBehind(ref.tenant, ref.id);
          count++;
          this.deps.log.warn('session ended: its media server is gone', { tenant: ref.tenant, sessionId: ref.id, serverId: server.serverId, participantsLeft: left.length });
        } catch (err) {
          ended = false;
          this.deps.log.error('sweep: could not end a session of a media server that is gone; the next sweep tries again', { tenant: ref.tenant, sessionId: ref.id, err });
        }
      }
      return count;
    });
    return done && ended;
  }

  /**
   * Finishes the recordings a server that is gone left `recording`: the segments it uploaded are assembled into the WAV
   * (the audio up to its last upload: at most its RECORDING_SEGMENT_SECONDS, 20 s by default and 25 at most, before it
   * died; an 8 kHz recording's mu-law segments expanded to PCM16), and the recording ends `partial` at the end of that
   * audio, or `failed` when nothing survived, with its event. Assembly may run again after a sweep died midway
   * (core/recordings/objects.ts). Whether none is left.
   */
  private async finishRecordingsOf(server: MediaServerRecord, now: Date): Promise<boolean> {
    const { store, objects, events } = this.deps.recordings;
    let finished = true;
    for (const recording of await store.leftBehind(server.serverId)) {
      const ids = { tenant: recording.tenant, recordingId: recording.id, roomId: recording.roomId, callId: recording.callId, serverId: server.serverId };
      try {
        const assembled = await objects(recording.awsRegion, recording.bucket).assemble(recording.key, recording.format);
        const end = assembled ? new Date(Date.parse(recording.start) + Math.round(assembled.duration * 1000)).toISOString() : now.toISOString();
        const ended = await store.finish(recording.tenant, recording.id, { status: assembled ? 'partial' : 'failed', end, reason: 'media server stopped', size: assembled?.size ?? null, duration: assembled?.duration ?? null });
        if (!ended) continue;
        await events.publish(endEvent(ended), ended);
        this.deps.log.warn('recording ended: its media server is gone', { ...ids, status: ended.status, duration: ended.duration });
      } catch (err) {
        finished = false;
        this.deps.log.error('sweep: could not finish a recording of a media server that is gone; the next sweep tries again', { ...ids, err });
      }
    }
    return finished;
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

  private missCalls(keys: readonly Item[]): Promise<number> {
    return this.eachCall(keys, 'end a call whose stream never started', async (tenant, id) => {
      // Null when the stream came (or Plivo hung up) after the index was read: nothing to do. An inbound call is
      // `missed`; an outbound one Plivo never called back about (nor answered) is `not-answered`.
      const outbox = await outboxes(this.deps.events, tenant, 'call-missed', this.deps.log);
      const endedAt = new Date();
      const call =
        (await this.deps.calls.miss(tenant, id, endedAt.toISOString(), this.deps.retentionDays, outbox)) ??
        (await this.deps.calls.unanswered(tenant, id, 'not-answered', callEnd('no-callback', null, endedAt), this.deps.retentionDays, outbox));
      if (!call) return false;
      this.deps.log.info('call missed: its stream never started', { tenant, callId: id, roomId: call.roomId, status: call.status });
      await this.deps.events.publish(callEvent('call-missed', call), outbox);
      return true;
    });
  }

  private async requeue(keys: readonly Item[], now: Date): Promise<number> {
    const refs: DeliveryRef[] = [];
    for (const key of keys) {
      const ref = deliveryRefOf(key);
      if (!ref) continue;
      try {
        const delivery = await this.deps.deliveries.get(ref);
        // The index lags the table: only a delivery still pending and still overdue is requeued.
        if (!delivery || delivery.status !== 'pending' || Date.parse(this.deps.deliveries.dueAt(delivery)) > now.getTime()) continue;
        const updatedAt = new Date(Math.max(now.getTime(), Date.parse(delivery.updatedAt) + 1)).toISOString();
        if (await this.deps.deliveries.replace({ ...delivery, nextAttemptAt: null, updatedAt }, delivery.updatedAt)) refs.push(ref);
      } catch (err) {
        this.deps.log.error('sweep: could not requeue a delivery; the next sweep tries again', { deliveryId: ref.deliveryId, err });
      }
    }
    if (refs.length) {
      await this.deps.queue.send(refs);
      this.deps.log.warn('pending deliveries were overdue and are queued again', { deliveries: refs.map((r) => r.deliveryId) });
    }
    return refs.length;
  }
}
