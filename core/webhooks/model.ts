import type { CallView } from '../calls/model';
import type { TenantDocument } from '../documents';
import { CALL_EVENT_TYPES, type CallEventType, type WebhookEventType } from '../events';

/** Every event fans out to each webhook: a bound on the work one call can cause. */
export const MAX_WEBHOOKS_PER_TENANT = 10;


/** A tenant's registered receiver of lifecycle events. */
export interface Webhook extends TenantDocument {
  readonly url: string;
  readonly events: readonly WebhookEventType[];
  /**
   * The Standard Webhooks signing secret, KMS-encrypted (base64); shown once, at creation. Null for webhooks
   * made before it existed: their deliveries carry `videosdk-signature` alone.
   */
  readonly sealedSecret: string | null;
}

/** Whether some of `webhooks` subscribe to `type`: only then does a call's change wait in the outbox for its event. */
export const subscribes = (webhooks: readonly Pick<Webhook, 'events'>[], type: CallEventType): boolean => webhooks.some((hook) => hook.events.includes(type));

/** The call events some of `webhooks` subscribe to, in CALL_EVENT_TYPES' order. */
export const subscribedEvents = (webhooks: readonly Pick<Webhook, 'events'>[]): CallEventType[] => CALL_EVENT_TYPES.filter((type) => subscribes(webhooks, type));

export type WebhookView = Omit<Webhook, 'tenant' | 'sealedSecret'>;

export function toWebhookView({ tenant: _tenant, sealedSecret: _sealedSecret, ...view }: Webhook): WebhookView {
  return view;
}

/** The encryption context of a webhook's sealed secret: it opens for that webhook only. */
export const webhookSecretContext = (w: Pick<Webhook, 'tenant' | 'id'>) => ({ purpose: 'webhook-secret', tenant: w.tenant, webhookId: w.id });

/** What every delivery's body is: the exact bytes signed and sent, the same on every attempt. */
export interface WebhookPayload {
  readonly webhookType: CallEventType;
  readonly data: CallView;
  readonly timestamp: string;
}

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface DeliveryAttempt {
  readonly at: string;
  readonly durationMs: number;
  /** The receiver's HTTP status; null when there was no response (timeout, refused, DNS). */
  readonly statusCode: number | null;
  readonly error: string | null;
}

/**
 * One event on its way to one webhook. Its id is the `webhook-id` header, the same on every attempt.
 * `cycleAttempts` counts the attempts since it was created or last re-driven; when it passes the retry
 * schedule the delivery is dead-lettered (`failed`).
 */
export interface Delivery {
  readonly id: string;
  readonly tenant: string;
  readonly webhookId: string;
  readonly event: CallEventType;
  readonly callId: string;
  readonly status: DeliveryStatus;
  readonly body: string;
  readonly attempts: readonly DeliveryAttempt[];
  readonly cycleAttempts: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** When the next attempt is due; null when the delivery is not waiting for a retry. */
  readonly nextAttemptAt: string | null;
}

/** How a delivery is named on the queue. */
export interface DeliveryRef {
  readonly tenant: string;
  readonly webhookId: string;
  readonly deliveryId: string;
}

export interface DeliveryView extends Omit<Delivery, 'tenant' | 'body'> {
  readonly payload: WebhookPayload;
}

export function toDeliveryView({ tenant: _tenant, body, ...rest }: Delivery): DeliveryView {
  return { ...rest, payload: JSON.parse(body) as WebhookPayload };
}
