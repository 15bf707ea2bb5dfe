import { GetItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { db, isConditionFailure, num, readOptNum, str, type Item } from './dynamo';

/**
 * By default, a count changed this recently may have a write between its two steps (the count taken, the item not yet
 * written): a correction waits until the count has been still this long.
 */
const SETTLE_MS = 60_000;

/**
 * How many items of one kind a tenant has, for `pageInfo.total` and for caps: one item in a partition of its own
 * (`COUNT#tenant`, sort key the kind), outside the tenant's item collection that listings and the Answer URL read.
 *
 * DynamoDB Local's emulator here (dynalite) has no transactions, so the count and the item are two conditional
 * writes, ordered so that a crash between them can only leave the count high: a create takes its count first, a
 * delete gives it back after the item is gone. A high count is corrected by the next listing that walks to the end
 * (`numberedPage`) or by a create refused at a cap, once the count has been still for `SETTLE_MS`.
 */
export class TenantCounter {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    private readonly kind: string,
    private readonly settleMs = SETTLE_MS,
  ) {}

  private key(tenant: string): Item {
    return { pk: str(`COUNT#${tenant}`), sk: str(this.kind) };
  }

  async read(tenant: string): Promise<number> {
    const out = await db(() => this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: this.key(tenant), ConsistentRead: true })));
    return (out.Item && readOptNum(out.Item, 'n')) ?? 0;
  }

  /** Counts one more; false (nothing counted) when `max` are counted already. */
  take(tenant: string, max = Number.MAX_SAFE_INTEGER): Promise<boolean> {
    return this.update(tenant, 'ADD n :delta SET changedAt = :now', 'attribute_not_exists(n) OR n < :max', { ':delta': num(1), ':max': num(max) });
  }

  /** Counts one fewer: an item counted by `take` was deleted, or its write failed. */
  async give(tenant: string): Promise<void> {
    await this.update(tenant, 'ADD n :delta SET changedAt = :now', 'n > :zero', { ':delta': num(-1), ':zero': num(0) });
  }

  /** Sets the count to `actual`, what a full walk found, if it is still `counted` and has settled; true when it did. */
  correct(tenant: string, counted: number, actual: number): Promise<boolean> {
    const settled = 'changedAt < :settled';
    return this.update(
      tenant,
      'SET n = :actual, changedAt = :now',
      counted === 0 ? `attribute_not_exists(n) OR (n = :counted AND ${settled})` : `n = :counted AND ${settled}`,
      { ':actual': num(actual), ':counted': num(counted), ':settled': num(Date.now() - this.settleMs) },
    );
  }

  private async update(tenant: string, expression: string, condition: string, values: Item): Promise<boolean> {
    try {
      await db(() =>
        this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: this.key(tenant),
            UpdateExpression: expression,
            ConditionExpression: condition,
            ExpressionAttributeValues: { ':now': num(Date.now()), ...values },
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
