import { subscribes, type Webhook } from '../webhooks/model';
import { publishCallEvent, type WebhookEventSink } from '../webhooks/publisher';
import { CALL_STATUSES, type CallRecord, type TransferStatus } from './model';
import type { CallStore, TransferFields } from './store';

/**
 * A step of a call's transfer, for the API (`POST /v2/sip/call/transfer`) and Plivo's transfer callbacks alike: moves
 * the call to `to` (`CallStore.transferStep`, setting `set`), then publishes that status's event to `webhooks` if it
 * moved. Null when the call was not where that step comes from.
 */
export async function transferStep(
  deps: { readonly calls: Pick<CallStore, 'transferStep'>; readonly events: WebhookEventSink },
  call: Pick<CallRecord, 'tenant' | 'id'>,
  webhooks: readonly Webhook[],
  to: TransferStatus,
  set?: TransferFields,
): Promise<CallRecord | null> {
  const event = CALL_STATUSES[to].event;
  const moved = await deps.calls.transferStep(call.tenant, call.id, to, new Date().toISOString(), subscribes(webhooks, event), set);
  if (moved) await publishCallEvent(deps.events, event, moved, webhooks);
  return moved;
}
