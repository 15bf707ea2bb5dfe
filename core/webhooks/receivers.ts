import type { DocumentStore } from '../documents';
import { RECORDING_ID, ROOM_RECORD_ID } from '../ids';
import type { RecordingStore } from '../recordings/store';
import type { RoomStore } from '../room-records/store';
import type { DeliveryReceiver, Webhook } from './model';

/**
 * The receiver a delivery is filed under (`DeliveryRef.webhookId`): a tenant webhook (`wh_…`), a room's `webhook`
 * (`rm_…`, the room record's id) or a recording's `webhookUrl` (`rec_…`, the recording's id). Null when it is gone
 * (the webhook deleted, the room without a webhook, the recording deleted): the delivery is then dead-lettered, as one
 * to a deleted webhook is. A room's and a recording's URL have no Standard Webhooks secret.
 */
export class DeliveryReceivers {
  private readonly urlOwners: readonly { readonly id: RegExp; readonly url: (tenant: string, id: string) => Promise<string | null> }[];

  constructor(
    private readonly webhooks: Pick<DocumentStore<Webhook>, 'get'>,
    rooms: Pick<RoomStore, 'get'>,
    recordings: Pick<RecordingStore, 'get'>,
  ) {
    this.urlOwners = [
      { id: ROOM_RECORD_ID, url: async (tenant, id) => (await rooms.get(tenant, id))?.webhook?.endPoint ?? null },
      { id: RECORDING_ID, url: async (tenant, id) => (await recordings.get(tenant, id))?.webhookUrl ?? null },
    ];
  }

  async get(tenant: string, id: string): Promise<DeliveryReceiver | null> {
    const owner = this.urlOwners.find((kind) => kind.id.test(id));
    if (!owner) return this.webhooks.get(tenant, id);
    const url = await owner.url(tenant, id);
    return url === null ? null : { tenant, id, url, sealedSecret: null };
  }
}
