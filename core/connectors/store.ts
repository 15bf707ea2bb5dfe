import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { createHash, timingSafeEqual } from 'node:crypto';
import { bin, db, isConditionFailure, pageByPrefix, queryAll, readOptBin, readOptStr, readStr, str, type Item } from '../dynamo';
import { ConflictError } from '../errors';
import { isProviderId } from '../providers';
import type { Page } from '../pagination';
import type { Connector, ConnectorChanges } from './model';

export type ConnectorPage = Page<Connector>;

/** Where a webhook key's index entry points. */
export interface KeyOwner {
  readonly tenant: string;
  readonly connectorId: string;
}

/** Storage port for connectors. Every call but `webhookKeyOwner` is scoped to one tenant. */
export interface ConnectorStore {
  create(connector: Connector): Promise<void>;
  get(tenant: string, id: string): Promise<Connector | null>;
  /** Newest first; `afterId` continues a previous page. */
  list(tenant: string, limit: number, afterId?: string): Promise<ConnectorPage>;
  update(tenant: string, id: string, changes: ConnectorChanges, updatedAt: string): Promise<Connector | null>;
  /** Swaps the webhook key; the old key stops resolving the moment this returns (or earlier). */
  rotateKey(tenant: string, id: string, newKey: string, updatedAt: string): Promise<Connector | null>;
  delete(tenant: string, id: string): Promise<Connector | null>;
  /**
   * Where the key's index entry points, unverified: the caller must check the connector still holds
   * the key (`holdsWebhookKey`). Lets the Answer URL read the connector and the tenant's rules at once.
   */
  webhookKeyOwner(key: string): Promise<KeyOwner | null>;
  /** Ids of the tenant's connectors whose `defaultRuleId` is this rule. */
  referencingRule(tenant: string, ruleId: string): Promise<string[]>;
}

/** Connectors live in their tenant's item collection (`T#tenant`), sorted under `CN#`. */
export const CONNECTOR_TYPE = 'connector';
export const connectorSortKey = (id: string): string => `CN#${id}`;
const connectorKey = (tenant: string, id: string) => ({ pk: str(`T#${tenant}`), sk: str(connectorSortKey(id)) });
const keyDigest = (webhookKey: string) => createHash('sha256').update(webhookKey).digest();
/**
 * The key index is addressed by the key's SHA-256, never the key itself: item keys show up in
 * places values don't (CloudTrail data events, metrics), and the key is a bearer secret.
 */
const indexKey = (webhookKey: string) => ({ pk: str(`WHK#${keyDigest(webhookKey).toString('hex')}`), sk: str('WHK') });

const FIELDS = ['name', 'defaultRoomId', 'defaultRuleId', 'region', 'plivoAuthId', 'plivoAuthToken'] as const satisfies readonly (keyof ConnectorChanges)[];

function toItem(c: Connector): Item {
  const item: Item = {
    ...connectorKey(c.tenant, c.id),
    type: str(CONNECTOR_TYPE),
    id: str(c.id),
    tenant: str(c.tenant),
    provider: str(c.provider),
    webhookKey: str(c.webhookKey),
    createdAt: str(c.createdAt),
    updatedAt: str(c.updatedAt),
  };
  for (const field of ['name', 'defaultRoomId', 'defaultRuleId', 'region', 'plivoAuthId'] as const) {
    const value = c[field];
    if (value !== null) item[field] = str(value);
  }
  if (c.plivoAuthToken) item.plivoAuthToken = bin(c.plivoAuthToken);
  return item;
}

export function connectorFromItem(item: Item): Connector {
  const provider = readStr(item, 'provider');
  if (!isProviderId(provider)) throw new Error(`Stored connector has unknown provider ${provider}`);
  return {
    id: readStr(item, 'id'),
    tenant: readStr(item, 'tenant'),
    provider,
    name: readOptStr(item, 'name'),
    defaultRoomId: readOptStr(item, 'defaultRoomId'),
    defaultRuleId: readOptStr(item, 'defaultRuleId'),
    region: readOptStr(item, 'region'),
    webhookKey: readStr(item, 'webhookKey'),
    plivoAuthId: readOptStr(item, 'plivoAuthId'),
    plivoAuthToken: readOptBin(item, 'plivoAuthToken'),
    createdAt: readStr(item, 'createdAt'),
    updatedAt: readStr(item, 'updatedAt'),
  };
}

/** Constant-time: whether the connector's current webhook key is `key`. */
export function holdsWebhookKey(connector: Connector, key: string): boolean {
  return timingSafeEqual(keyDigest(connector.webhookKey), keyDigest(key));
}

export class DynamoConnectorStore implements ConnectorStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /*
   * No transactions (the embedded DynamoDB lacks them, and they cost double). The key index item is
   * written before the connector and removed after it, and a lookup only trusts an index item whose
   * connector still holds that key: a crash between the writes leaves an orphan index item that
   * resolves to nothing, never a live URL pointing at the wrong connector.
   */

  async create(connector: Connector): Promise<void> {
    await this.putIndex(connector);
    await db(() =>
      this.dynamo.send(
        new PutItemCommand({ TableName: this.tableName, Item: toItem(connector), ConditionExpression: 'attribute_not_exists(pk)' }),
      ),
    );
  }

  async get(tenant: string, id: string): Promise<Connector | null> {
    const out = await db(() =>
      this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: connectorKey(tenant, id), ConsistentRead: true })),
    );
    return out.Item ? connectorFromItem(out.Item) : null;
  }

  async list(tenant: string, limit: number, afterId?: string): Promise<ConnectorPage> {
    const page = await pageByPrefix(this.dynamo, this.tableName, `T#${tenant}`, 'CN#', limit, afterId && `CN#${afterId}`);
    const items = page.items.map(connectorFromItem);
    return { items, lastId: page.more ? (items[items.length - 1]?.id ?? null) : null };
  }

  async update(tenant: string, id: string, changes: ConnectorChanges, updatedAt: string): Promise<Connector | null> {
    const names: Record<string, string> = { '#updatedAt': 'updatedAt' };
    const values: Record<string, AttributeValue> = { ':updatedAt': str(updatedAt) };
    const set = ['#updatedAt = :updatedAt'];
    const remove: string[] = [];
    for (const field of FIELDS) {
      const value = changes[field];
      if (value === undefined) continue;
      names[`#${field}`] = field;
      if (value === null) remove.push(`#${field}`);
      else {
        values[`:${field}`] = typeof value === 'string' ? str(value) : bin(value);
        set.push(`#${field} = :${field}`);
      }
    }
    const expression = `SET ${set.join(', ')}` + (remove.length ? ` REMOVE ${remove.join(', ')}` : '');
    try {
      const out = await db(() =>
        this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: connectorKey(tenant, id),
            UpdateExpression: expression,
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return out.Attributes ? connectorFromItem(out.Attributes) : null;
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw err;
    }
  }

  async rotateKey(tenant: string, id: string, newKey: string, updatedAt: string): Promise<Connector | null> {
    const current = await this.get(tenant, id);
    if (!current) return null;
    const next = { ...current, webhookKey: newKey, updatedAt };
    await this.putIndex(next);
    try {
      // The switch point: from this write on, the old key's index item no longer matches its connector.
      await db(() =>
        this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: connectorKey(tenant, id),
            UpdateExpression: 'SET webhookKey = :new, updatedAt = :updatedAt',
            ConditionExpression: 'webhookKey = :old',
            ExpressionAttributeValues: { ':new': str(newKey), ':old': str(current.webhookKey), ':updatedAt': str(updatedAt) },
          }),
        ),
      );
    } catch (err) {
      await this.deleteIndex(newKey);
      if (!isConditionFailure(err)) throw err;
      // Deleted or rotated by someone else between our read and write.
      if (!(await this.get(tenant, id))) return null;
      throw new ConflictError('The connector was changed concurrently; retry the request');
    }
    await this.deleteIndex(current.webhookKey);
    return next;
  }

  async delete(tenant: string, id: string): Promise<Connector | null> {
    let old: Item | undefined;
    try {
      const out = await db(() =>
        this.dynamo.send(
          new DeleteItemCommand({
            TableName: this.tableName,
            Key: connectorKey(tenant, id),
            ConditionExpression: 'attribute_exists(pk)',
            ReturnValues: 'ALL_OLD',
          }),
        ),
      );
      old = out.Attributes;
    } catch (err) {
      if (isConditionFailure(err)) return null;
      throw err;
    }
    if (!old) return null;
    const connector = connectorFromItem(old);
    await this.deleteIndex(connector.webhookKey);
    return connector;
  }

  async webhookKeyOwner(key: string): Promise<KeyOwner | null> {
    const out = await db(() =>
      this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: indexKey(key), ConsistentRead: true })),
    );
    return out.Item ? { tenant: readStr(out.Item, 'tenant'), connectorId: readStr(out.Item, 'connectorId') } : null;
  }

  async referencingRule(tenant: string, ruleId: string): Promise<string[]> {
    const items = await queryAll(this.dynamo, this.tableName, `T#${tenant}`, { prefix: 'CN#' }, {
      FilterExpression: 'defaultRuleId = :rule',
      ProjectionExpression: 'id',
      values: { ':rule': str(ruleId) },
    });
    return items.map((item) => readStr(item, 'id'));
  }

  private async putIndex(connector: Connector): Promise<void> {
    const item = {
      ...indexKey(connector.webhookKey),
      type: str('webhook-key'),
      tenant: str(connector.tenant),
      connectorId: str(connector.id),
    };
    await db(() => this.dynamo.send(new PutItemCommand({ TableName: this.tableName, Item: item })));
  }

  private async deleteIndex(webhookKey: string): Promise<void> {
    await db(() => this.dynamo.send(new DeleteItemCommand({ TableName: this.tableName, Key: indexKey(webhookKey) })));
  }
}
