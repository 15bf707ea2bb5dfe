import type { DocumentStore } from '../documents';
import { ROOM_RECORD_ID } from '../ids';
import type { RoomStore } from '../room-records/store';
import type { DeliveryReceiver, Webhook } from './model';

/**
 * The receiver a delivery is filed under (`DeliveryRef.webhookId`): a tenant webhook (`wh_…`), or a room's `webhook`
 * (`rm_…`, the room record's id). Null when it is gone (the webhook deleted, the room without a webhook): the delivery
 * is then dead-lettered, as one to a deleted webhook is.
 */
export class DeliveryReceivers {
  constructor(
    private readonly webhooks: Pick<DocumentStore<Webhook>, 'get'>,
    private readonly rooms: Pick<RoomStore, 'get'>,
  ) {}

  async get(tenant: string, id: string): Promise<DeliveryReceiver | null> {
    if (!ROOM_RECORD_ID.test(id)) return this.webhooks.get(tenant, id);
    const room = await this.rooms.get(tenant, id);
    return room?.webhook ? { tenant, id, url: room.webhook.endPoint, sealedSecret: null } : null;
  }
}
