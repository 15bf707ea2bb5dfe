import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Connector } from '../connectors/model';
import { CONNECTOR_TYPE, connectorFromItem, connectorSortKey } from '../connectors/store';
import { DynamoDocumentStore, type DocumentStore } from '../documents';
import { queryAll, str } from '../dynamo';
import type { RoutingRule } from './model';

/** Storage port for routing rules, every call scoped to one tenant. */
export interface RoutingRuleStore extends DocumentStore<RoutingRule> {
  /**
   * A connector and every rule of its tenant, read together (the Answer URL's routing input); the
   * connector is null when it does not exist.
   */
  withConnector(tenant: string, connectorId: string): Promise<{ connector: Connector | null; rules: RoutingRule[] }>;
}

const RULE_PREFIX = 'RR#';
const RULE_TYPE = 'routing-rule';

export class DynamoRoutingRuleStore extends DynamoDocumentStore<RoutingRule> implements RoutingRuleStore {
  constructor(dynamo: DynamoDBClient, tableName: string) {
    super(dynamo, tableName, { prefix: RULE_PREFIX, type: RULE_TYPE });
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
      rules: (connectorItem ? items.slice(1) : items).map((item) => this.fromItem(item)),
    };
  }
}
