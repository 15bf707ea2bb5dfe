import { ConflictError, NotFoundError, ServiceUnavailableError } from '../errors';
import { DELIVERY_ID } from '../ids';
import type { Logger } from '../log';
import type { NumberedPage, PageRequest } from '../pagination';
import { toDeliveryView, type Delivery, type DeliveryRef, type DeliveryStatus, type DeliveryView } from './model';
import type { DeliveryQueue } from './queue';
import type { DeliveryStore } from './store';

/**
 * The deliveries filed under one receiver, a webhook (`/v2/sip/webhooks/{id}/deliveries`) or a room
 * (`/v2/rooms/{id}/deliveries`): listed, read and re-driven alike. The caller has found the receiver in its tenant.
 */
export class DeliveryLog {
  constructor(
    private readonly deps: {
      readonly deliveries: DeliveryStore;
      readonly queue: DeliveryQueue | null;
      readonly log: Logger;
    },
  ) {}

  /** A page of the receiver's deliveries, newest first, optionally of one status. */
  async page(tenant: string, receiverId: string, status: DeliveryStatus | undefined, request: PageRequest): Promise<NumberedPage<DeliveryView>> {
    const { data, pageInfo } = await this.deps.deliveries.page(tenant, receiverId, status, request);
    return { data: data.map(toDeliveryView), pageInfo };
  }

  async get(ref: DeliveryRef): Promise<DeliveryView> {
    return toDeliveryView(await this.found(ref));
  }

  /**
   * Re-drives a dead-lettered delivery: a new cycle of attempts (the whole retry schedule), same
   * `webhook-id`. If queueing fails the record is already pending, and the sweeper queues it.
   */
  async retry(ref: DeliveryRef): Promise<DeliveryView> {
    const delivery = await this.found(ref);
    if (delivery.status !== 'failed') throw new ConflictError(`Delivery ${ref.deliveryId} is ${delivery.status}; only failed deliveries can be retried`);
    if (!this.deps.queue) throw new ServiceUnavailableError('Re-driving deliveries needs the webhook queue (WEBHOOK_QUEUE_URL), which is not configured');
    const updatedAt = new Date(Math.max(Date.now(), Date.parse(delivery.updatedAt) + 1)).toISOString();
    const next = { ...delivery, status: 'pending' as const, cycleAttempts: 0, nextAttemptAt: null, updatedAt };
    if (!(await this.deps.deliveries.replace(next, delivery.updatedAt))) {
      throw new ConflictError('The delivery was changed concurrently; retry the request');
    }
    const log = { tenant: ref.tenant, webhookId: ref.webhookId, deliveryId: ref.deliveryId };
    try {
      await this.deps.queue.send([ref]);
    } catch (err) {
      this.deps.log.warn('re-driven delivery not queued; the sweeper queues it', { ...log, error: err });
    }
    this.deps.log.info('delivery re-driven', log);
    return toDeliveryView(next);
  }

  private async found(ref: DeliveryRef): Promise<Delivery> {
    const delivery = DELIVERY_ID.test(ref.deliveryId) && (await this.deps.deliveries.get(ref));
    if (!delivery) throw new NotFoundError(`Delivery ${ref.deliveryId} not found`);
    return delivery;
  }
}
