import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { CallStore } from './calls/store';
import { overdue, type Item } from './dynamo';
import { callEvent, type CallEventSink } from './events';
import type { Logger } from './log';
import type { DeliveryRef } from './webhooks/model';
import type { DeliveryQueue } from './webhooks/queue';
import { deliveryRefOf, type DeliveryStore } from './webhooks/store';

/** Items read from the `due` index per query; a sweep reads until it has caught up, up to ROUNDS queries. */
const BATCH = 100;
const ROUNDS = 10;

/**
 * Finishes work nobody else will: calls whose stream never started (claim expired) end as `missed`
 * with a `call-missed` event, and pending deliveries whose queue message was lost (a crash, a restart
 * of the local stack's in-memory queue) are queued again. Runs every minute in AWS, every second locally.
 */
export class Sweeper {
  constructor(
    private readonly deps: {
      readonly dynamo: DynamoDBClient;
      readonly tableName: string;
      readonly calls: CallStore;
      readonly deliveries: DeliveryStore;
      readonly queue: DeliveryQueue;
      readonly events: CallEventSink;
      readonly retentionDays: number;
      readonly log: Logger;
    },
  ) {}

  async sweep(now: Date = new Date()): Promise<{ missed: number; requeued: number }> {
    let missed = 0;
    let requeued = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const [calls, deliveries] = await Promise.all([
        overdue(this.deps.dynamo, this.deps.tableName, 'call', now, BATCH),
        overdue(this.deps.dynamo, this.deps.tableName, 'delivery', now, BATCH),
      ]);
      missed += await this.missCalls(calls);
      requeued += await this.requeue(deliveries, now);
      if (calls.length < BATCH && deliveries.length < BATCH) break;
    }
    if (missed || requeued) this.deps.log.info('sweep', { missed, requeued });
    return { missed, requeued };
  }

  private async missCalls(keys: readonly Item[]): Promise<number> {
    let missed = 0;
    for (const key of keys) {
      const tenant = key.pk?.S?.replace(/^T#/, '');
      const id = key.sk?.S?.replace(/^CALL#/, '');
      if (!tenant || !id) continue;
      // Null when the stream came (or Plivo hung up) after the index was read: nothing to do.
      const call = await this.deps.calls.miss(tenant, id, new Date().toISOString(), this.deps.retentionDays);
      if (!call) continue;
      missed++;
      this.deps.log.info('call missed: its stream never started', { tenant, callId: id, roomId: call.roomId });
      await this.deps.events.publish(callEvent('call-missed', call));
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
