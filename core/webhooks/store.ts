import { GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDocumentStore } from '../documents';
import { db, dueAttributes, isConditionFailure, num, putIfVersion, readOptNum, readOptStr, readStr, str, type Item } from '../dynamo';
import { ConflictError } from '../errors';
import type { CallEventType } from '../events';
import { timeOfId } from '../ids';
import type { Page } from '../pagination';
import { MAX_WEBHOOKS_PER_TENANT, type Delivery, type DeliveryAttempt, type DeliveryRef, type DeliveryStatus, type Webhook } from './model';

export const WEBHOOK_PREFIX = 'WH#';
export const WEBHOOK_TYPE = 'webhook';

/**
 * A tenant's webhook slots: the ids of its webhooks (and of creates under way) as a string set, with a version
 * `v`. Its own partition keeps it out of the tenant's item collection, which the Answer URL reads by range.
 */
const slotsKey = (tenant: string): Item => ({ pk: str(`WEBHOOKS#${tenant}`), sk: str('SLOTS') });
/** A slot this old without its webhook was taken by a create that died between its two writes. */
const ABANDONED_SLOT_MS = 60_000;
const RESERVE_TRIES = 3;

/**
 * Webhooks hold at most MAX_WEBHOOKS_PER_TENANT per tenant however many creates race: each create first takes
 * a slot with one conditional write, then writes the webhook; a delete gives the slot back.
 */
export class DynamoWebhookStore extends DynamoDocumentStore<Webhook> {
  constructor(dynamo: DynamoDBClient, tableName: string) {
    super(dynamo, tableName, { prefix: WEBHOOK_PREFIX, type: WEBHOOK_TYPE });
  }

  /** Throws a ConflictError when the tenant has no slot left. */
  override async create(doc: Webhook): Promise<void> {
    await this.reserve(doc.tenant, doc.id);
    try {
      await super.create(doc);
    } catch (err) {
      await this.release(doc.tenant, doc.id);
      throw err;
    }
  }

  override async delete(tenant: string, id: string): Promise<Webhook | null> {
    const deleted = await super.delete(tenant, id);
    // Also when it was gone already: a delete that died before releasing is repeated.
    await this.release(tenant, id);
    return deleted;
  }

  private async reserve(tenant: string, id: string): Promise<void> {
    for (let i = 0; i < RESERVE_TRIES; i++) {
      if (await this.update(tenant, 'ADD ids :ids, v :one', 'attribute_exists(v) AND (attribute_not_exists(ids) OR size(ids) < :max)', { ':ids': { SS: [id] }, ':max': num(MAX_WEBHOOKS_PER_TENANT) })) return;
      // Full, or never counted (webhooks made before slots were): recount from the webhooks themselves.
      const slots = await this.recount(tenant);
      if (slots.taken.size >= MAX_WEBHOOKS_PER_TENANT) break;
      const ids = { SS: [...slots.taken, id] };
      const done = slots.version === null
        ? await this.update(tenant, 'SET ids = :ids, v = :one', 'attribute_not_exists(v)', { ':ids': ids })
        : await this.update(tenant, 'SET ids = :ids ADD v :one', 'v = :v', { ':ids': ids, ':v': num(slots.version) });
      if (done) return;
    }
    throw new ConflictError(`A tenant can have at most ${MAX_WEBHOOKS_PER_TENANT} webhooks; delete one first`);
  }

  /** The slots really taken: the tenant's webhooks, and recent reservations of creates still under way. */
  private async recount(tenant: string): Promise<{ taken: Set<string>; version: number | null }> {
    const [out, webhooks] = await Promise.all([
      db(() => this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: slotsKey(tenant), ConsistentRead: true }))),
      this.all(tenant),
    ]);
    const taken = new Set(webhooks.map((w) => w.id));
    const now = Date.now();
    for (const id of out.Item?.ids?.SS ?? []) if (now - timeOfId(id) < ABANDONED_SLOT_MS) taken.add(id);
    return { taken, version: out.Item ? readOptNum(out.Item, 'v') : null };
  }

  private async release(tenant: string, id: string): Promise<void> {
    await this.update(tenant, 'DELETE ids :ids ADD v :one', 'attribute_exists(v)', { ':ids': { SS: [id] } });
  }

  /** One conditional update of the tenant's slots item; false when the condition failed. */
  private async update(tenant: string, expression: string, condition: string, values: Item): Promise<boolean> {
    try {
      await db(() =>
        this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: slotsKey(tenant),
            UpdateExpression: expression,
            ConditionExpression: condition,
            ExpressionAttributeValues: { ':one': num(1), ...values },
          }),
        ),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
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
