import { DeleteItemCommand, GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Connector } from '../connectors/model';
import { connectorFromItem, connectorSortKey } from '../connectors/store';
import { CountedDynamoDocumentStore, type CountedDocumentStore } from '../documents';
import { db, isConditionFailure, num, queryAll, readOptNum, readOptStr, str } from '../dynamo';
import type { Webhook } from '../webhooks/model';
import { DynamoWebhookStore, WEBHOOK_PREFIX, WEBHOOK_TYPE } from '../webhooks/store';
import type { RoutingRule } from './model';

/** The Answer URL reads every rule of a tenant on each call: a bound on that read. */
export const MAX_RULES_PER_TENANT = 500;

/** Storage port for routing rules, every call scoped to one tenant. */
export interface RoutingRuleStore extends CountedDocumentStore<RoutingRule> {
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

export class DynamoRoutingRuleStore extends CountedDynamoDocumentStore<RoutingRule> implements RoutingRuleStore {
  private readonly webhookDocuments: DynamoWebhookStore;

  constructor(dynamo: DynamoDBClient, tableName: string) {
    super(dynamo, tableName, {
      prefix: RULE_PREFIX,
      type: RULE_TYPE,
      cap: { max: MAX_RULES_PER_TENANT, message: `A tenant can have at most ${MAX_RULES_PER_TENANT} routing rules; delete one first` },
    });
    this.webhookDocuments = new DynamoWebhookStore(dynamo, tableName);
  }

  /**
   * The connector's item and, at the same time, one strongly consistent query over the tenant's rules (`RR#`) and
   * webhooks (`WH#`), which sort next to each other in its item collection (webhook deliveries, `WHD#`, after them):
   * both bounded by their caps, however many connectors the tenant has.
   */
  async withConnector(tenant: string, connectorId: string): Promise<CallSetup> {
    const [found, items] = await Promise.all([
      db(() => this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: { pk: str(`T#${tenant}`), sk: str(connectorSortKey(connectorId)) }, ConsistentRead: true }))),
      queryAll(this.dynamo, this.tableName, `T#${tenant}`, { between: [RULE_PREFIX, `${WEBHOOK_PREFIX}\uffff`] }, {
        // Key attributes cannot be filtered on; the item type says the same.
        FilterExpression: '#type IN (:rule, :webhook)',
        ExpressionAttributeNames: { '#type': 'type' },
        values: { ':rule': str(RULE_TYPE), ':webhook': str(WEBHOOK_TYPE) },
      }),
    ]);
    const rules: RoutingRule[] = [];
    const webhooks: Webhook[] = [];
    for (const item of items) {
      if (item.type?.S === RULE_TYPE) rules.push(this.fromItem(item));
      else webhooks.push(this.webhookDocuments.fromItem(item));
    }
    return { connector: found.Item ? connectorFromItem(found.Item) : null, rules, webhooks };
  }
}

/**
 * By default, a number's holder must have been written this long ago before a rule that does not hold the number
 * counts as a leftover: a create takes its numbers first and writes its rule after.
 */
const SETTLE_MS = 60_000;

/** Who holds a number: the rule, and whether its hold is old enough to be judged against the rule. */
export interface NumberHolder {
  readonly ruleId: string;
  readonly settled: boolean;
}

/**
 * Which inbound rule holds each of a tenant's numbers: one item per (tenant, number), in a partition of its own
 * (`RULENUM#tenant`, outside the item collection the Answer URL reads), taken with a conditional write, so of two
 * rules racing for a number exactly one gets it. DynamoDB Local's emulator here (dynalite) has no transactions, so
 * the holds and the rule are separate writes, ordered so that a crash can only leave a hold behind (numbers are
 * taken before the rule is written and given back after it changed or went): a hold whose rule does not hold the
 * number is a leftover, and `take` takes it over once it has settled.
 */
export class InboundNumberStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    private readonly settleMs = SETTLE_MS,
  ) {}

  private key(tenant: string, number: string) {
    return { pk: str(`RULENUM#${tenant}`), sk: str(number) };
  }

  /** Holds `number` for `ruleId` (true, also when it already did); false when another rule's hold is there. */
  async take(tenant: string, number: string, ruleId: string, leftover?: string): Promise<boolean> {
    try {
      await db(() =>
        this.dynamo.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: { ...this.key(tenant, number), type: str('rule-number'), ruleId: str(ruleId), takenAtMs: num(Date.now()) },
            ConditionExpression: leftover ? 'ruleId = :leftover' : 'attribute_not_exists(pk) OR ruleId = :rule',
            ExpressionAttributeValues: leftover ? { ':leftover': str(leftover) } : { ':rule': str(ruleId) },
          }),
        ),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /** Who holds `number`, or null. */
  async holder(tenant: string, number: string): Promise<NumberHolder | null> {
    const { Item } = await db(() => this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: this.key(tenant, number), ConsistentRead: true })));
    const ruleId = Item && readOptStr(Item, 'ruleId');
    return ruleId ? { ruleId, settled: (readOptNum(Item, 'takenAtMs') ?? 0) < Date.now() - this.settleMs } : null;
  }

  /** Gives `number` back if `ruleId` holds it. */
  async release(tenant: string, number: string, ruleId: string): Promise<void> {
    try {
      await db(() =>
        this.dynamo.send(
          new DeleteItemCommand({
            TableName: this.tableName,
            Key: this.key(tenant, number),
            ConditionExpression: 'ruleId = :rule',
            ExpressionAttributeValues: { ':rule': str(ruleId) },
          }),
        ),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
}
