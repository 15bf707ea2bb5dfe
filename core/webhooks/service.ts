import type { CountedDocumentStore } from '../documents';
import { WEBHOOK_EVENT_TYPES } from '../events';
import { BadRequestError, ConflictError, NotFoundError } from '../errors';
import { newWebhookId, WEBHOOK_ID } from '../ids';
import type { Logger } from '../log';
import type { NumberedPage, PageRequest } from '../pagination';
import type { SecretBox } from '../secret-box';
import type { DeliveryLog } from './delivery-log';
import { toWebhookView, webhookSecretContext, type DeliveryStatus, type DeliveryView, type Webhook, type WebhookView } from './model';
import type { WebhookBody, WebhookUpdate } from './schema';
import { newWebhookSecret } from './signing';
import { targetProblem, WEBHOOK_SCHEMES } from './targets';

/** Webhook registration and delivery history, each scoped to the calling tenant. */
export class WebhookService {
  constructor(
    private readonly deps: {
      readonly webhooks: CountedDocumentStore<Webhook>;
      readonly deliveries: DeliveryLog;
      /** Seals each webhook's signing secret. */
      readonly box: SecretBox;
      readonly allowPrivateTargets: boolean;
      readonly log: Logger;
    },
  ) {}

  /** The new webhook, with its signing `secret`: the only time it is shown. */
  async create(tenant: string, body: WebhookBody): Promise<WebhookView & { secret: string }> {
    await this.checkUrl(body.url);
    const now = new Date().toISOString();
    const id = newWebhookId();
    const secret = newWebhookSecret();
    const sealedSecret = Buffer.from(await this.deps.box.seal(secret, webhookSecretContext({ tenant, id }))).toString('base64');
    const webhook: Webhook = { id, tenant, url: body.url, events: body.events ?? [...WEBHOOK_EVENT_TYPES], sealedSecret, createdAt: now, updatedAt: now };
    // The store refuses a create beyond MAX_WEBHOOKS_PER_TENANT, whatever races it.
    await this.deps.webhooks.create(webhook);
    this.deps.log.info('webhook created', { tenant, webhookId: webhook.id, events: webhook.events });
    return { ...toWebhookView(webhook), secret };
  }

  /** A page of the tenant's webhooks, newest first; each also carries `webhookId` (= `id`), as VideoSDK's listing does. */
  async list(tenant: string, request: PageRequest): Promise<NumberedPage<WebhookView & { webhookId: string }>> {
    const { data, pageInfo } = await this.deps.webhooks.page(tenant, request);
    return { data: data.map((webhook) => ({ ...toWebhookView(webhook), webhookId: webhook.id })), pageInfo };
  }

  async get(tenant: string, id: string): Promise<WebhookView> {
    return toWebhookView(await this.found(tenant, id));
  }

  async update(tenant: string, id: string, changes: WebhookUpdate): Promise<WebhookView> {
    const current = await this.found(tenant, id);
    if (changes.url !== undefined) await this.checkUrl(changes.url);
    const updatedAt = new Date(Math.max(Date.now(), Date.parse(current.updatedAt) + 1)).toISOString();
    const next: Webhook = { ...current, url: changes.url ?? current.url, events: changes.events ?? current.events, updatedAt };
    if (!(await this.deps.webhooks.replace(next, current.updatedAt))) {
      await this.found(tenant, id);
      throw new ConflictError('The webhook was changed concurrently; retry the request');
    }
    this.deps.log.info('webhook updated', { tenant, webhookId: id });
    return toWebhookView(next);
  }

  /** Pending deliveries of a deleted webhook end dead-lettered on their next attempt. */
  async delete(tenant: string, id: string): Promise<WebhookView> {
    await this.found(tenant, id);
    const deleted = await this.deps.webhooks.delete(tenant, id);
    if (!deleted) throw new NotFoundError(`Webhook ${id} not found`);
    this.deps.log.info('webhook deleted', { tenant, webhookId: id });
    return toWebhookView(deleted);
  }

  /** A page of the webhook's deliveries, newest first, optionally of one status. */
  async deliveries(tenant: string, id: string, status: DeliveryStatus | undefined, request: PageRequest): Promise<NumberedPage<DeliveryView>> {
    await this.found(tenant, id);
    return this.deps.deliveries.page(tenant, id, status, request);
  }

  /** One delivery of one of the tenant's webhooks (the webhook must still exist), or 404. */
  async delivery(tenant: string, id: string, deliveryId: string): Promise<DeliveryView> {
    await this.found(tenant, id);
    return this.deps.deliveries.get({ tenant, webhookId: id, deliveryId });
  }

  /** Re-drives a failed delivery of one of the tenant's webhooks (`DeliveryLog.retry`). */
  async retry(tenant: string, id: string, deliveryId: string): Promise<DeliveryView> {
    await this.found(tenant, id);
    return this.deps.deliveries.retry({ tenant, webhookId: id, deliveryId });
  }

  private async found(tenant: string, id: string): Promise<Webhook> {
    const webhook = WEBHOOK_ID.test(id) && (await this.deps.webhooks.get(tenant, id));
    if (!webhook) throw new NotFoundError(`Webhook ${id} not found`);
    return webhook;
  }

  private async checkUrl(url: string): Promise<void> {
    const problem = await targetProblem(url, this.deps.allowPrivateTargets, WEBHOOK_SCHEMES);
    if (problem) throw new BadRequestError(`Invalid webhook url: ${problem}`, [{ field: 'url', message: problem }]);
  }
}
