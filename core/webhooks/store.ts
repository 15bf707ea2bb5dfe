import { GetItemCommand, PutItemCommand, QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CountedDynamoDocumentStore } from '../documents';
import { db, dueAttributes, isConditionFailure, num, putIfVersion, readOptStr, readStr, str, type Item } from '../dynamo';
import type { CallEventType } from '../events';
import type { Page } from '../pagination';
import { MAX_WEBHOOKS_PER_TENANT, type Delivery, type DeliveryAttempt, type DeliveryRef, type DeliveryStatus, type Webhook } from './model';

export const WEBHOOK_PREFIX = 'WH#';
export const WEBHOOK_TYPE = 'webhook';

/** Webhooks, at most MAX_WEBHOOKS_PER_TENANT per tenant however many creates race (the counter takes each first). */
export class DynamoWebhookStore extends CountedDynamoDocumentStore<Webhook> {
  constructor(dynamo: DynamoDBClient, tableName: string) {
    super(dynamo, tableName, {
      prefix: WEBHOOK_PREFIX,
      type: WEBHOOK_TYPE,
      cap: { max: MAX_WEBHOOKS_PER_TENANT, message: `A tenant can have at most ${MAX_WEBHOOKS_PER_TENANT} webhooks; delete one first` },
    });
  }
}

const DELIVERY_PREFIX = 'WHD#';
const deliveryKey = (tenant: string, webhookId: string, id: string): Item => ({
  pk: str(`T#${tenant}`),
  sk: str(`${DELIVERY_PREFIX}${webhookId}#${id}`),
});

/** The delivery a base-table key (as the `due` index returns it) names. */
export function deliveryRefOf(key: Item): DeliveryRef | null {
  const tenant = key.pk?.S?.replace(/^T#/, '');
  const [webhookId, deliveryId] = (key.sk?.S ?? '').slice(DELIVERY_PREFIX.length).split('#');
  return tenant && webhookId && deliveryId ? { tenant, webhookId, deliveryId } : null;
}

/** Pages of a filtered listing may come back short from DynamoDB; a listing reads at most this many. */
const MAX_QUERY_PAGES = 10;

/**
 * Delivery records in the control table, under the tenant and their webhook. A pending delivery sits in
 * the `due` index from when it should have been attempted plus `redriveAfterSeconds`: if it is still
 * pending then, its queue message was lost and the sweeper sends it again.
 */
export class DeliveryStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    private readonly options: { readonly retentionDays: number; readonly redriveAfterSeconds: number },
  ) {}

  /** When a pending delivery counts as lost if it is still pending. */
  dueAt(d: Delivery): string {
    return new Date(Date.parse(d.nextAttemptAt ?? d.updatedAt) + this.options.redriveAfterSeconds * 1000).toISOString();
  }

  private toItem(d: Delivery): Item {
    return {
      ...deliveryKey(d.tenant, d.webhookId, d.id),
      type: str('webhook-delivery'),
      id: str(d.id),
      tenant: str(d.tenant),
      webhookId: str(d.webhookId),
      event: str(d.event),
      callId: str(d.callId),
      status: str(d.status),
      body: str(d.body),
      attempts: str(JSON.stringify(d.attempts)),
      cycleAttempts: num(d.cycleAttempts),
      createdAt: str(d.createdAt),
      updatedAt: str(d.updatedAt),
      expiresAt: num(Math.floor(Date.parse(d.updatedAt) / 1000) + this.options.retentionDays * 86400),
      ...(d.nextAttemptAt && { nextAttemptAt: str(d.nextAttemptAt) }),
      ...(d.status === 'pending' && dueAttributes('delivery', this.dueAt(d))),
    };
  }

  private fromItem(item: Item): Delivery {
    return {
      id: readStr(item, 'id'),
      tenant: readStr(item, 'tenant'),
      webhookId: readStr(item, 'webhookId'),
      event: readStr(item, 'event') as CallEventType,
      callId: readStr(item, 'callId'),
      status: readStr(item, 'status') as DeliveryStatus,
      body: readStr(item, 'body'),
      attempts: JSON.parse(readStr(item, 'attempts')) as DeliveryAttempt[],
      cycleAttempts: Number(item.cycleAttempts?.N ?? 0),
      createdAt: readStr(item, 'createdAt'),
      updatedAt: readStr(item, 'updatedAt'),
      nextAttemptAt: readOptStr(item, 'nextAttemptAt'),
    };
  }

  /**
   * Writes new deliveries, all at once: one round trip of single-item puts (a tenant has at most 10
   * webhooks), which the functions' narrow PutItem grants already cover. Returns those written: a delivery
   * already there (an event published again after a crash) is left as it is.
   */
  async createAll(deliveries: readonly Delivery[]): Promise<Delivery[]> {
    const written = await Promise.all(
      deliveries.map(async (d) => {
        try {
          await db(() => this.dynamo.send(new PutItemCommand({ TableName: this.tableName, Item: this.toItem(d), ConditionExpression: 'attribute_not_exists(pk)' })));
          return d;
        } catch (err) {
          if (isConditionFailure(err)) return null;
          throw err;
        }
      }),
    );
    return written.filter((d) => d !== null);
  }

  async get(ref: DeliveryRef): Promise<Delivery | null> {
    const out = await db(() =>
      this.dynamo.send(
        new GetItemCommand({ TableName: this.tableName, Key: deliveryKey(ref.tenant, ref.webhookId, ref.deliveryId), ConsistentRead: true }),
      ),
    );
    return out.Item ? this.fromItem(out.Item) : null;
  }

  /** Replaces the delivery if it still has `expectedUpdatedAt`; false when another attempt recorded first. */
  replace(next: Delivery, expectedUpdatedAt: string): Promise<boolean> {
    return putIfVersion(this.dynamo, this.tableName, this.toItem(next), expectedUpdatedAt);
  }

  /** A webhook's deliveries, newest first, optionally of one status; `afterId` continues a previous page. */
  async list(tenant: string, webhookId: string, status: DeliveryStatus | undefined, limit: number, afterId?: string): Promise<Page<Delivery>> {
    const prefix = `${DELIVERY_PREFIX}${webhookId}#`;
    const items: Delivery[] = [];
    let start: Item | undefined = afterId ? deliveryKey(tenant, webhookId, afterId) : undefined;
    for (let pages = 0; pages < MAX_QUERY_PAGES && items.length <= limit; pages++) {
      const out = await db(() =>
        this.dynamo.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
            ...(status && { FilterExpression: '#status = :status', ExpressionAttributeNames: { '#status': 'status' } }),
            ExpressionAttributeValues: { ':pk': str(`T#${tenant}`), ':prefix': str(prefix), ...(status && { ':status': str(status) }) },
            ScanIndexForward: false,
            ConsistentRead: true,
            Limit: limit + 1,
            ...(start && { ExclusiveStartKey: start }),
          }),
        ),
      );
      items.push(...(out.Items ?? []).map((item) => this.fromItem(item)));
      start = out.LastEvaluatedKey;
      if (!start) break;
    }
    const page = items.slice(0, limit);
    if (items.length > limit) return { items: page, lastId: page[page.length - 1]?.id ?? null };
    // Stopped reading before the end (the filter kept few): a short page, continuing where reading stopped.
    const stoppedAt = start && deliveryRefOf(start)?.deliveryId;
    return { items: page, lastId: stoppedAt ?? null };
  }
}
