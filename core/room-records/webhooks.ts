import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ControlPlaneConfig } from '../config';
import type { Logger } from '../log';
import { ReadCache } from '../read-cache';
import type { SessionEvent, SessionEventSink } from '../sessions/events';
import type { RoomWebhookPayload } from '../webhooks/model';
import { newDelivery, recordAndQueue, webhookQueue, webhookStores } from '../webhooks/publisher';
import type { DeliveryQueue } from '../webhooks/queue';
import type { DeliveryStore } from '../webhooks/store';
import type { Room } from './model';
import { DynamoRoomStore, type RoomStore } from './store';

/** Rooms whose webhook one process remembers; past this it starts over. */
const CACHE_ROOMS = 10_000;

/**
 * Delivers a room's session events to its `webhook` (`POST /v2/rooms`) on the path call events take to tenant
 * webhooks: a delivery record (filed under the room record's id, its id from the event's id, type and the room), then
 * the webhook queue; the delivery worker signs, POSTs and retries it, the sweeper queues it again if its message was
 * lost, under the same address policy. The room is read by its name, at most once per WEBHOOK_CACHE_SECONDS per process
 * (its webhook never changes after its create). A room without a webhook, or one not subscribed to the event, costs
 * that cached read alone.
 */
export class RoomWebhookPublisher implements SessionEventSink {
  private readonly rooms: ReadCache<Room | null>;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly deps: {
      readonly rooms: Pick<RoomStore, 'named'>;
      readonly deliveries: DeliveryStore;
      readonly queue: DeliveryQueue;
      readonly cacheMs: number;
      readonly log: Logger;
    },
  ) {
    this.rooms = new ReadCache(deps.cacheMs, CACHE_ROOMS);
  }

  /** Fire and forget: returns at once; a failure is logged with the tenant, room and event, and nothing is retried. */
  publish(event: SessionEvent): void {
    const work: Promise<void> = this.deliver(event)
      .catch((err: unknown) =>
        this.deps.log.error('room event not recorded for its webhook', { tenant: event.tenant, roomName: event.roomName, event: event.type, eventId: event.eventId, error: err }),
      )
      .finally(() => this.inFlight.delete(work));
    this.inFlight.add(work);
  }

  /** Resolves once every event published so far is recorded and queued, or its failure logged: what a stopping server waits for. */
  async settled(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  private async deliver(event: SessionEvent): Promise<void> {
    const { tenant, roomName } = event;
    const room = await this.rooms.of(`${tenant}\0${roomName}`, () => this.deps.rooms.named(tenant, roomName));
    if (!room?.webhook?.events.includes(event.type)) return;
    const payload: RoomWebhookPayload = { webhookType: event.type, data: event.data, timestamp: event.timestamp };
    const delivery = newDelivery({ tenant, webhookId: room.id, event: event.type, subject: event.eventId, callId: null, body: JSON.stringify(payload), timestamp: event.timestamp });
    const log = this.deps.log.child({ tenant, roomName, roomRecordId: room.id, event: event.type, eventId: event.eventId });
    const written = await recordAndQueue(this.deps, [delivery], log);
    log.info(written.length ? 'room event recorded for its webhook' : 'room event was recorded for its webhook already', { deliveryId: delivery.id });
  }
}

/** The room webhook publisher of a media server, from the control-plane config. */
export function roomWebhookPublisher(config: ControlPlaneConfig, dynamo: DynamoDBClient, log: Logger): RoomWebhookPublisher {
  return new RoomWebhookPublisher({
    rooms: new DynamoRoomStore(dynamo, config.tableName),
    deliveries: webhookStores(config, dynamo).deliveries,
    queue: webhookQueue(config),
    cacheMs: config.webhooks.cacheSeconds * 1000,
    log,
  });
}
