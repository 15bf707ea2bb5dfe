import type { CallView } from '../calls/model';
import type { TenantDocument } from '../documents';
import { CALL_EVENT_TYPES, type CallEventType, type WebhookEventType } from '../events';
import type { RecordingEventType, RecordingView } from '../recordings/model';
import type { RoomWebhookEvent } from '../room-records/schema';

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

/** What a call event delivery's body is: the exact bytes signed and sent, the same on every attempt. */
export interface WebhookPayload {
  readonly webhookType: CallEventType;
  readonly data: CallView;
  readonly timestamp: string;
}

/** What a room's session event delivery's body is (core/sessions/events.ts): the same shape, the session or participant as `data`. */
export interface RoomWebhookPayload {
  readonly webhookType: RoomWebhookEvent;
  readonly data: Readonly<Record<string, unknown>>;
  readonly timestamp: string;
}

/** What a recording event delivery's body is (core/recordings/events.ts): the recording, its `file.fileUrl` null. */
export interface RecordingWebhookPayload {
  readonly webhookType: RecordingEventType;
  readonly data: RecordingView;
  readonly timestamp: string;
}

/**
 * Every event a delivery may carry: a call's or a recording's, to a tenant webhook; a room's session event, to the
 * room's `webhook`; a recording's, to its own `webhookUrl`.
 */
export type DeliveryEvent = CallEventType | RecordingEventType | RoomWebhookEvent;
export type DeliveryPayload = WebhookPayload | RecordingWebhookPayload | RoomWebhookPayload;

/**
 * Where a delivery goes: a tenant webhook; or a room's `webhook` (`POST /v2/rooms`) or a recording's `webhookUrl`
 * (`POST /v2/recordings/start`), named by the room record's or the recording's id and without a Standard Webhooks
 * secret (their deliveries carry `videosdk-signature` alone).
 */
export type DeliveryReceiver = Pick<Webhook, 'tenant' | 'id' | 'url' | 'sealedSecret'>;

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
 * One event on its way to one receiver (a webhook, or a room's webhook: `webhookId` is then the room record's id). Its
 * id is the `webhook-id` header, the same on every attempt.
 * `cycleAttempts` counts the attempts since it was created or last re-driven; when it passes the retry
 * schedule the delivery is dead-lettered (`failed`).
 */
export interface Delivery {
  readonly id: string;
  readonly tenant: string;
  readonly webhookId: string;
  readonly event: DeliveryEvent;
  /** The call the event is about (a call recording's call); null for a room's session events (their `data` names the session) and a room recording's. */
  readonly callId: string | null;
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
  readonly payload: DeliveryPayload;
}

export function toDeliveryView({ tenant: _tenant, body, ...rest }: Delivery): DeliveryView {
  return { ...rest, payload: JSON.parse(body) as DeliveryPayload };
}
