import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ControlPlaneConfig } from '../config';
import type { Logger } from '../log';
import { WebhookCache } from '../webhooks/cache';
import type { RecordingWebhookPayload } from '../webhooks/model';
import { newDelivery, recordAndQueue, webhookQueue, webhookStores } from '../webhooks/publisher';
import type { DeliveryQueue } from '../webhooks/queue';
import type { DeliveryStore } from '../webhooks/store';
import type { Recording, RecordingEventType, RecordingView } from './model';

/**
 * Where a recording's events go (`recording-started` as its audio begins, `recording-stopped` or `recording-failed` as
 * it ends): the media server writing it calls it, and the sweeper for a recording whose server died.
 */
export interface RecordingEventSink {
  /**
   * Never throws: a failure is logged with the event. Resolves once the deliveries are recorded and queued (what a
   * sweep or a stopping server waits for); publishing it again records no twin.
   */
  publish(type: RecordingEventType, recording: Recording): Promise<void>;
}

/** The event an ended recording fires: `recording-failed` when it has no file, else `recording-stopped`. */
export const endEvent = (recording: Pick<Recording, 'status'>): RecordingEventType => (recording.status === 'failed' ? 'recording-failed' : 'recording-stopped');

/** A recording as the API shows it: `fileUrl` a presigned GET of its WAV (`GET /v2/recordings/{id}`), or null. */
export function toRecordingView(recording: Recording, fileUrl: string | null): RecordingView {
  const { id, roomId, customRoomId, sessionId, callId, kind, status, start, end, reason, format, size, duration } = recording;
  return { id, roomId, customRoomId, sessionId, callId, kind, status, start, end, reason, file: { fileUrl, size, duration, ...format } };
}

/**
 * The body of a recording event's deliveries: the recording as `GET /v2/recordings/{id}` shows it but for `fileUrl`,
 * always null here: a presigned URL expires in minutes, and a delivery may be retried for hours (the receiver asks
 * `GET /v2/recordings/{id}` for one when it wants the file). The same bytes on every publish of the event.
 */
export function recordingPayload(type: RecordingEventType, recording: Recording): RecordingWebhookPayload {
  return { webhookType: type, data: toRecordingView(recording, null), timestamp: type === 'recording-started' ? recording.start : (recording.end ?? recording.start) };
}

/**
 * Delivers recording events on the path call events take: to each of the tenant's webhooks subscribed to the event
 * (read through a cache, at most once per WEBHOOK_CACHE_SECONDS per process), and to the recording's own `webhookUrl`
 * (deliveries filed under the recording's id, `DeliveryReceivers`). Delivery ids follow from the recording, the event
 * and the receiver, so the sweeper publishing an event again writes no twin.
 */
export class RecordingWebhookPublisher implements RecordingEventSink {
  constructor(
    private readonly deps: {
      readonly webhooks: WebhookCache;
      readonly deliveries: DeliveryStore;
      readonly queue: DeliveryQueue;
      readonly log: Logger;
    },
  ) {}

  async publish(type: RecordingEventType, recording: Recording): Promise<void> {
    const log = this.deps.log.child({ tenant: recording.tenant, recordingId: recording.id, roomId: recording.roomId, callId: recording.callId, event: type });
    try {
      const hooks = (await this.deps.webhooks.of(recording.tenant)).filter((hook) => hook.events.includes(type)).map((hook) => hook.id);
      const receivers = recording.webhookUrl === null ? hooks : [...hooks, recording.id];
      const payload = recordingPayload(type, recording);
      const of = { tenant: recording.tenant, event: type, subject: recording.id, callId: recording.callId, body: JSON.stringify(payload), timestamp: payload.timestamp };
      const written = await recordAndQueue(this.deps, receivers.map((webhookId) => newDelivery({ ...of, webhookId })), log);
      log.info('recording event', { status: recording.status, receivers: receivers.length, recorded: written.length });
    } catch (err) {
      log.error('recording event not recorded for its webhooks', { status: recording.status, error: err });
    }
  }
}

/** The recording event publisher of a media server or the sweeper, from the control-plane config. */
export function recordingWebhookPublisher(config: ControlPlaneConfig, dynamo: DynamoDBClient, log: Logger): RecordingWebhookPublisher {
  const { webhooks, deliveries } = webhookStores(config, dynamo);
  return new RecordingWebhookPublisher({ webhooks: new WebhookCache(webhooks, config.webhooks.cacheSeconds * 1000), deliveries, queue: webhookQueue(config), log });
}
