import { GetItemCommand, PutItemCommand, type DynamoDBClient, type QueryCommandInput } from '@aws-sdk/client-dynamodb';
import { CountedDynamoDocumentStore } from '../documents';
import { db, dueAttributes, isConditionFailure, num, putIfVersion, readAtMost, readOptStr, readStr, str, unexpired, type Item } from '../dynamo';
import { cappedPage, type NumberedPage, type PageRequest } from '../pagination';
import { MAX_WEBHOOKS_PER_TENANT, type Delivery, type DeliveryAttempt, type DeliveryEvent, type DeliveryRef, type DeliveryStatus, type Webhook } from './model';

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

/**
 * A listing of a webhook's deliveries reads at most this many (its newest): about 2 KB each with their payload, so
 * at most about 1 MB, one round trip and 128 read units (docs/BENCHMARKS.md, "Webhook deliveries").
 */
export const DELIVERY_LIST_READ_LIMIT = 500;

/**
 * Delivery records in the control table, under the tenant and their receiver (a webhook, or a room: its record's id).
 * A pending delivery sits in the `due` index from when it should have been attempted plus `redriveAfterSeconds`: if it
 * is still pending then, its queue message was lost and the sweeper sends it again.
 */
export class DeliveryStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    private readonly options: {
      readonly retentionDays: number;
      readonly redriveAfterSeconds: number;
      /** How many of a webhook's deliveries a listing reads at most. @default DELIVERY_LIST_READ_LIMIT */
      readonly readLimit?: number;
    },
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
      ...(d.callId !== null && { callId: str(d.callId) }),
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
      event: readStr(item, 'event') as DeliveryEvent,
      callId: readOptStr(item, 'callId'),
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
    const item = unexpired(out.Item);
    return item ? this.fromItem(item) : null;
  }

  /** Replaces the delivery if it still has `expectedUpdatedAt`; false when another attempt recorded first. */
  replace(next: Delivery, expectedUpdatedAt: string): Promise<boolean> {
    return putIfVersion(this.dynamo, this.tableName, this.toItem(next), expectedUpdatedAt);
  }

  /**
   * A page of a webhook's deliveries, newest first, optionally of one status: the listing reads at most `readLimit` of
   * the webhook's newest deliveries (docs/BENCHMARKS.md, "Webhook deliveries"), so `total` beyond them is a lower bound.
   */
  page(tenant: string, webhookId: string, status: DeliveryStatus | undefined, request: PageRequest): Promise<NumberedPage<Delivery>> {
    const query: QueryCommandInput = {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      // Past their retention they are gone, whether or not TTL has removed them yet (as `get` reads them).
      FilterExpression: status ? 'expiresAt > :now AND #status = :status' : 'expiresAt > :now',
      ...(status && { ExpressionAttributeNames: { '#status': 'status' } }),
      ExpressionAttributeValues: {
        ':pk': str(`T#${tenant}`),
        ':prefix': str(`${DELIVERY_PREFIX}${webhookId}#`),
        ':now': num(Math.floor(Date.now() / 1000)),
        ...(status && { ':status': str(status) }),
      },
      ScanIndexForward: false,
    };
    // The whole deliveries are read (a query is charged for them even when it asks for their keys alone), so the page's
    // own are kept from that read rather than read again.
    return cappedPage(
      request,
      () => readAtMost(this.dynamo, query, this.options.readLimit ?? DELIVERY_LIST_READ_LIMIT),
      (items) => Promise.resolve(items.map((item) => this.fromItem(item))),
    );
  }
}
