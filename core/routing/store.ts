import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { db, isConditionFailure, pageByPrefix, queryAllByPrefix, readStr, str, type Item } from '../dynamo';
import type { Page } from '../pagination';
import type { RoutingRule } from './model';

/** Storage port for routing rules, every call scoped to one tenant. */
export interface RoutingRuleStore {
  create(rule: RoutingRule): Promise<void>;
  get(tenant: string, id: string): Promise<RoutingRule | null>;
  list(tenant: string, limit: number, afterId?: string): Promise<Page<RoutingRule>>;
  /** Every rule of the tenant (the Answer URL's routing input). */
  all(tenant: string): Promise<RoutingRule[]>;
  /** Replaces the rule if it still has `expectedUpdatedAt`; false when it changed or vanished meanwhile. */
  replace(rule: RoutingRule, expectedUpdatedAt: string): Promise<boolean>;
  delete(tenant: string, id: string): Promise<RoutingRule | null>;
}

const ruleKey = (tenant: string, id: string) => ({ pk: str(`T#${tenant}`), sk: str(`RR#${id}`) });

// The rule's fields travel as one JSON document: they are always read and written whole.
function toItem(rule: RoutingRule): Item {
  const { id, tenant, createdAt, updatedAt, ...body } = rule;
  return {
    ...ruleKey(tenant, id),
    type: str('routing-rule'),
    id: str(id),
    tenant: str(tenant),
    createdAt: str(createdAt),
    updatedAt: str(updatedAt),
    body: str(JSON.stringify(body)),
  };
}

function fromItem(item: Item): RoutingRule {
  const body = JSON.parse(readStr(item, 'body')) as Omit<RoutingRule, 'id' | 'tenant' | 'createdAt' | 'updatedAt'>;
  return {
    ...body,
    id: readStr(item, 'id'),
    tenant: readStr(item, 'tenant'),
    createdAt: readStr(item, 'createdAt'),
    updatedAt: readStr(item, 'updatedAt'),
  };
}

export class DynamoRoutingRuleStore implements RoutingRuleStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async create(rule: RoutingRule): Promise<void> {
    await db(() =>
      this.dynamo.send(new PutItemCommand({ TableName: this.tableName, Item: toItem(rule), ConditionExpression: 'attribute_not_exists(pk)' })),
    );
  }

  async get(tenant: string, id: string): Promise<RoutingRule | null> {
    const out = await db(() =>
      this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: ruleKey(tenant, id), ConsistentRead: true })),
    );
    return out.Item ? fromItem(out.Item) : null;
  }

  async list(tenant: string, limit: number, afterId?: string): Promise<Page<RoutingRule>> {
    const page = await pageByPrefix(this.dynamo, this.tableName, `T#${tenant}`, 'RR#', limit, afterId && `RR#${afterId}`);
    const items = page.items.map(fromItem);
    return { items, lastId: page.more ? (items[items.length - 1]?.id ?? null) : null };
  }

  async all(tenant: string): Promise<RoutingRule[]> {
    return (await queryAllByPrefix(this.dynamo, this.tableName, `T#${tenant}`, 'RR#')).map(fromItem);
  }

  async replace(rule: RoutingRule, expectedUpdatedAt: string): Promise<boolean> {
    try {
      await db(() =>
        this.dynamo.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: toItem(rule),
            ConditionExpression: 'updatedAt = :expected',
            ExpressionAttributeValues: { ':expected': str(expectedUpdatedAt) },
          }),
        ),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  async delete(tenant: string, id: string): Promise<RoutingRule | null> {
    const out = await db(() =>
      this.dynamo.send(new DeleteItemCommand({ TableName: this.tableName, Key: ruleKey(tenant, id), ReturnValues: 'ALL_OLD' })),
    );
    return out.Attributes ? fromItem(out.Attributes) : null;
  }
}
