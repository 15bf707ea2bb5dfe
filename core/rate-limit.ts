import { UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { db, isConditionFailure, num, str, TABLE_KEYS } from './dynamo';
import { TooManyRequestsError } from './errors';

/** Each window's counter item outlives its window by this much; DynamoDB's TTL deletes it some time later. */
const COUNTER_TTL_SECONDS = 60;

/**
 * A tenant's API request rate, shared by every Lambda instance: a fixed one-second window counted in one item of
 * the control table per tenant and second, bumped with one conditional update per request (`n < limit`), so a
 * request costs one DynamoDB write and a refused one changes nothing.
 *
 * The counters live in their own partition (`RATE#<tenant>`), not the tenant's item collection (`T#<tenant>`):
 * there they would sort inside the Answer URL's connector-to-rules range query and slow every call's routing.
 *
 * Fixed windows allow up to twice the limit across a window boundary (the end of one second and the start of the
 * next); the stage throttle still caps the whole API.
 */
export class TenantRateLimiter {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    /** Requests per second per tenant. */
    readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`TenantRateLimiter: limit must be a positive integer, got ${limit}`);
  }

  /** Counts one request of `tenant`; throws a 429 (with Retry-After) when the tenant is over its limit this second. */
  async admit(tenant: string): Promise<void> {
    const window = Math.floor(this.now() / 1000);
    try {
      await db(() =>
        this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: { [TABLE_KEYS.partitionKey]: str(`RATE#${tenant}`), [TABLE_KEYS.sortKey]: str(`W#${window}`) },
            UpdateExpression: 'ADD n :one SET #ttl = :ttl',
            ConditionExpression: 'attribute_not_exists(n) OR n < :limit',
            ExpressionAttributeNames: { '#ttl': TABLE_KEYS.timeToLive },
            ExpressionAttributeValues: { ':one': num(1), ':limit': num(this.limit), ':ttl': num(window + 1 + COUNTER_TTL_SECONDS) },
          }),
        ),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      // The window ends within the second; Retry-After counts whole seconds.
      throw new TooManyRequestsError(`Rate limit exceeded: at most ${this.limit} API requests per second per tenant; retry after 1 s`, 1);
    }
  }
}
