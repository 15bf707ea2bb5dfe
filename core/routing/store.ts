import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Connector } from '../connectors/model';
import { CONNECTOR_TYPE, connectorFromItem, connectorSortKey } from '../connectors/store';
import { DynamoDocumentStore, type DocumentStore } from '../documents';
import { queryAll, str } from '../dynamo';
import type { Webhook } from '../webhooks/model';
import { DynamoWebhookStore, WEBHOOK_PREFIX, WEBHOOK_TYPE } from '../webhooks/store';
import type { RoutingRule } from './model';

/** Storage port for routing rules, every call scoped to one tenant. */
export interface RoutingRuleStore extends DocumentStore<RoutingRule> {
  /**
   * A connector with every rule and webhook of its tenant, read together (what the Answer URL needs to
   * route a call and announce it); the connector is null when it does not exist.
   */
  withConnector(tenant: string, connectorId: string): Promise<CallSetup>;
}

export interface CallSetup {
  readonly connector: Connector | null;
  readonly rules: RoutingRule[];
  readonly webhooks: Webhook[];
}

const RULE_PREFIX = 'RR#';
const RULE_TYPE = 'routing-rule';

export class DynamoRoutingRuleStore extends DynamoDocumentStore<RoutingRule> implements RoutingRuleStore {
  private readonly webhookDocuments: DynamoWebhookStore;

  constructor(dynamo: DynamoDBClient, tableName: string) {
    super(dynamo, tableName, { prefix: RULE_PREFIX, type: RULE_TYPE });
    this.webhookDocuments = new DynamoWebhookStore(dynamo, tableName);
  }

  /**
   * One strongly consistent query: connectors (`CN#`) sort before rules (`RR#`) and rules before
   * webhooks (`WH#`) in the tenant's item collection, so the range from this connector to the last
   * webhook holds all three. The tenant's connectors that sort after this one fall in the range too and
   * are filtered out on the server; webhook deliveries (`WHD#`) sort after the range.
   */
  async withConnector(tenant: string, connectorId: string): Promise<CallSetup> {
    const from = connectorSortKey(connectorId);
    const items = await queryAll(this.dynamo, this.tableName, `T#${tenant}`, { between: [from, `${WEBHOOK_PREFIX}\uffff`] }, {
      // Key attributes cannot be filtered on; the item type and id say the same.
      FilterExpression: '#type IN (:rule, :webhook) OR (#type = :connector AND id = :id)',
      ExpressionAttributeNames: { '#type': 'type' },
      values: { ':rule': str(RULE_TYPE), ':webhook': str(WEBHOOK_TYPE), ':connector': str(CONNECTOR_TYPE), ':id': str(connectorId) },
    });
    let connector: Connector | null = null;
    const rules: RoutingRule[] = [];
    const webhooks: Webhook[] = [];
    for (const item of items) {
      const type = item.type?.S;
      if (type === RULE_TYPE) rules.push(this.fromItem(item));
      else if (type === WEBHOOK_TYPE) webhooks.push(this.webhookDocuments.fromItem(item));
      else connector = connectorFromItem(item);
    }
    return { connector, rules, webhooks };
  }
}
