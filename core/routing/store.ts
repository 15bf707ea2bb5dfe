import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { Connector } from '../connectors/model';
import { CONNECTOR_TYPE, connectorFromItem, connectorSortKey } from '../connectors/store';
import { db, isConditionFailure, pageByPrefix, queryAll, readStr, str, type Item } from '../dynamo';
import type { Page } from '../pagination';
import type { RoutingRule } from './model';

/** Storage port for routing rules, every call scoped to one tenant. */
export interface RoutingRuleStore {
  create(rule: RoutingRule): Promise<void>;
  get(tenant: string, id: string): Promise<RoutingRule | null>;
  list(tenant: string, limit: number, afterId?: string): Promise<Page<RoutingRule>>;
  /**
   * A connector and every rule of its tenant, read together (the Answer URL's routing input); the
   * connector is null when it does not exist.
   */
  withConnector(tenant: string, connectorId: string): Promise<{ connector: Connector | null; rules: RoutingRule[] }>;
  /** Replaces the rule if it still has `expectedUpdatedAt`; false when it changed or vanished meanwhile. */
  replace(rule: RoutingRule, expectedUpdatedAt: string): Promise<boolean>;
  delete(tenant: string, id: string): Promise<RoutingRule | null>;
}

const RULE_PREFIX = 'RR#';
const RULE_TYPE = 'routing-rule';
const ruleKey = (tenant: string, id: string) => ({ pk: str(`T#${tenant}`), sk: str(`${RULE_PREFIX}${id}`) });

// The rule's fields travel as one JSON document: they are always read and written whole.
function toItem(rule: RoutingRule): Item {
  const { id, tenant, createdAt, updatedAt, ...body } = rule;
  return {
    ...ruleKey(tenant, id),
    type: str(RULE_TYPE),
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
    const page = await pageByPrefix(this.dynamo, this.tableName, `T#${tenant}`, RULE_PREFIX, limit, afterId && `${RULE_PREFIX}${afterId}`);
    const items = page.items.map(fromItem);
    return { items, lastId: page.more ? (items[items.length - 1]?.id ?? null) : null };
  }

  /**
   * One strongly consistent query: connectors (`CN#`) sort just before rules (`RR#`) in the tenant's
   * item collection, so the range from this connector to the last rule holds both. The tenant's
   * connectors that sort after this one fall in the range too and are filtered out on the server.
   */
  async withConnector(tenant: string, connectorId: string): Promise<{ connector: Connector | null; rules: RoutingRule[] }> {
    const from = connectorSortKey(connectorId);
    const items = await queryAll(this.dynamo, this.tableName, `T#${tenant}`, { between: [from, `${RULE_PREFIX}\uffff`] }, {
      // Key attributes cannot be filtered on; the item type and id say the same.
      FilterExpression: '#type = :rule OR (#type = :connector AND id = :id)',
      ExpressionAttributeNames: { '#type': 'type' },
      values: { ':rule': str(RULE_TYPE), ':connector': str(CONNECTOR_TYPE), ':id': str(connectorId) },
    });
    const connectorItem = items[0]?.sk?.S === from ? items[0] : undefined;
    return {
      connector: connectorItem ? connectorFromItem(connectorItem) : null,
      rules: (connectorItem ? items.slice(1) : items).map(fromItem),
    };
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
