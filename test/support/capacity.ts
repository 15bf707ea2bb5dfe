import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * Makes every request of `dynamo` report the capacity it consumed (`ReturnConsumedCapacity: TOTAL`; dynalite and
 * DynamoDB Local both answer it) and returns `measured`: what one piece of work sent, and the read capacity it used.
 */
export function capacityMeter(dynamo: DynamoDBClient) {
  const sent = { requests: 0, rcu: 0 };
  dynamo.middlewareStack.add(
    (next) => async (args) => {
      sent.requests++;
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'TOTAL';
      const out = await next(args);
      // One table's figure, or (BatchGetItem, BatchWriteItem) a list of them.
      const consumed = (out.output as { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] }).ConsumedCapacity;
      for (const table of [consumed ?? []].flat()) sent.rcu += table.CapacityUnits ?? 0;
      return out;
    },
    { step: 'initialize' },
  );
  return async function measured<T>(work: () => Promise<T>): Promise<{ result: T; requests: number; rcu: number }> {
    const before = { ...sent };
    const result = await work();
    return { result, requests: sent.requests - before.requests, rcu: sent.rcu - before.rcu };
  };
}
