import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type QueryCommandInput,
  type QueryCommandOutput,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { callDependency, ServiceUnavailableError } from './errors';

/**
 * The control table's key schema: one table, generic keys, TTL on `expiresAt` (epoch seconds), one
 * overloaded global index for time-ordered listings (call records, newest first) and one for due work.
 */
export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  timeToLive: 'expiresAt',
  /**
   * The call log, newest first: a narrow index that projects only what the log filters on (about 210 bytes a call,
   * against 700+ for the whole call), so counting a window reads a third of the bytes; the page's calls are then read
   * by key. Written when a call is created (and when it moves rooms), not on each of its other updates.
   */
  byTime: {
    indexName: 'byTime',
    partitionKey: 'gsi1pk',
    sortKey: 'gsi1sk',
    projected: ['roomId', 'ruleId', 'direction', 'from', 'to', 'hidePhoneNumber'],
  },
  /**
   * Sparse, keys only: items carry `duePk`/`dueSk` only while some work on them falls due at a time (a call
   * whose stream must start, a delivery that must have been attempted); the sweeper reads what is overdue.
   */
  due: { indexName: 'due', partitionKey: 'duePk', sortKey: 'dueSk' },
  /**
   * Sparse, keys only: a call carries `outboxPk`/`outboxSk` from the write that changed its state until that
   * change's event is recorded for its webhooks (`pendingEvents`, a string set naming each change `type@at`, so two
   * changes of one type wait each on its own); the sweeper publishes what a crash left, each with its own timestamp.
   */
  outbox: { indexName: 'outbox', partitionKey: 'outboxPk', sortKey: 'outboxSk' },
} as const;

export type Item = Record<string, AttributeValue>;

export const str = (value: string): AttributeValue => ({ S: value });
export const bin = (value: Uint8Array): AttributeValue => ({ B: value });
export const num = (value: number): AttributeValue => ({ N: String(value) });

/** An item past its `expiresAt` (epoch seconds) that TTL has not removed yet (that takes up to days) counts as gone. */
export function unexpired(item: Item | undefined, nowMs = Date.now()): Item | undefined {
  const expiresAt = item && readOptNum(item, 'expiresAt');
  return expiresAt !== null && expiresAt !== undefined && expiresAt * 1000 <= nowMs ? undefined : item;
}

export function readOptNum(item: Item, name: string): number | null {
  const value = item[name]?.N;
  return value === undefined ? null : Number(value);
}

export function readStr(item: Item, name: string): string {
  const value = item[name]?.S;
  if (value === undefined) throw new Error(`Item attribute ${name} is missing or not a string`);
  return value;
}

export function readOptStr(item: Item, name: string): string | null {
  return item[name]?.S ?? null;
}

export function readOptBin(item: Item, name: string): Uint8Array | null {
  return item[name]?.B ?? null;
}

export function isConditionFailure(err: unknown): boolean {
  return err instanceof ConditionalCheckFailedException || (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}

/**
 * Writes `item` over the stored one only if that still has `updatedAt = expectedUpdatedAt` (optimistic
 * concurrency); false when it changed or vanished meanwhile.
 */
export function putIfVersion(dynamo: DynamoDBClient, tableName: string, item: Item, expectedUpdatedAt: string): Promise<boolean> {
  return conditionalWrite(() =>
    dynamo.send(
      new PutItemCommand({
        TableName: tableName,
        Item: item,
        ConditionExpression: 'updatedAt = :expected',
        ExpressionAttributeValues: { ':expected': str(expectedUpdatedAt) },
      }),
    ),
  );
}

/**
 * As `putIfVersion`, but attributes the stored item has and `item` does not name stay as they are (an agent's rule
 * references, which only their own writes change).
 */
export function updateIfVersion(dynamo: DynamoDBClient, tableName: string, item: Item, expectedUpdatedAt: string): Promise<boolean> {
  const { pk, sk, ...attributes } = item;
  const names = Object.keys(attributes);
  return conditionalWrite(() =>
    dynamo.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { pk: pk as AttributeValue, sk: sk as AttributeValue },
        UpdateExpression: `SET ${names.map((_, i) => `#a${i} = :a${i}`).join(', ')}`,
        ConditionExpression: '#updatedAt = :expected',
        ExpressionAttributeNames: { '#updatedAt': 'updatedAt', ...Object.fromEntries(names.map((name, i) => [`#a${i}`, name])) },
        ExpressionAttributeValues: { ':expected': str(expectedUpdatedAt), ...Object.fromEntries(names.map((name, i) => [`:a${i}`, attributes[name] as AttributeValue])) },
      }),
    ),
  );
}

/** Runs one conditional write: false when its condition did not hold (nothing written). */
export async function conditionalWrite(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await db(write);
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** One conditional update, answering the item as it is now; null when its condition did not hold (nothing written). */
export async function conditionalUpdate(dynamo: DynamoDBClient, tableName: string, input: Omit<UpdateItemCommandInput, 'TableName' | 'ReturnValues'>): Promise<Item | null> {
  try {
    const out = await db(() => dynamo.send(new UpdateItemCommand({ ...input, TableName: tableName, ReturnValues: 'ALL_NEW' })));
    return out.Attributes ?? null;
  } catch (err) {
    if (isConditionFailure(err)) return null;
    throw err;
  }
}

/** Runs one database call; an unreachable or throttling database becomes a 503. */
export function db<T>(call: () => Promise<T>): Promise<T> {
  return callDependency('database', call);
}

/**
 * One page of a partition's items whose sort key starts with `prefix`, newest (highest key) first,
 * continuing after `afterSk`. Asks for one more than `limit`, so the last page never has a cursor.
 */
export async function pageByPrefix(
  dynamo: DynamoDBClient,
  tableName: string,
  pk: string,
  prefix: string,
  limit: number,
  afterSk?: string,
): Promise<{ items: Item[]; more: boolean }> {
  const out = await db(() =>
    dynamo.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': str(pk), ':prefix': str(prefix) },
        ScanIndexForward: false,
        Limit: limit + 1,
        ConsistentRead: true,
        ...(afterSk && { ExclusiveStartKey: { pk: str(pk), sk: str(afterSk) } }),
      }),
    ),
  );
  const items = out.Items ?? [];
  return { items: items.slice(0, limit), more: items.length > limit };
}

/** Which sort keys of a partition a query reads: those starting with `prefix`, or those in an inclusive range. */
export type SortKeyCondition = { readonly prefix: string } | { readonly between: readonly [string, string] };

/**
 * Every item of a partition whose sort key meets `sk`, in sort-key order, across all of DynamoDB's
 * pages. `extra` adds a filter or projection (its expression values join the key condition's).
 */
export async function queryAll(
  dynamo: DynamoDBClient,
  tableName: string,
  pk: string,
  sk: SortKeyCondition,
  extra: Pick<QueryCommandInput, 'FilterExpression' | 'ProjectionExpression' | 'ExpressionAttributeNames'> & { values?: Item } = {},
): Promise<Item[]> {
  const { values, ...rest } = extra;
  const key: { condition: string; values: Item } =
    'prefix' in sk
      ? { condition: 'pk = :pk AND begins_with(sk, :sk0)', values: { ':sk0': str(sk.prefix) } }
      : { condition: 'pk = :pk AND sk BETWEEN :sk0 AND :sk1', values: { ':sk0': str(sk.between[0]), ':sk1': str(sk.between[1]) } };
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const out: QueryCommandOutput = await db(() =>
      dynamo.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: key.condition,
          ExpressionAttributeValues: { ':pk': str(pk), ...key.values, ...values },
          ConsistentRead: true,
          ...rest,
          ...(start && { ExclusiveStartKey: start }),
        }),
      ),
    );
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * Kinds of work the sweeper looks for in the `due` index: calls whose stream must start, deliveries that must
 * have been attempted, (`server#<id>`) the answered calls a media server holds, closed if that server dies, and
 * (`switch`) answered calls whose switch of rooms awaits its outcome, failed if none comes in time (they are back under
 * their `server#<id>` once it comes), (`sessions#<id>`) the ongoing room sessions a media server holds, ended if it dies,
 * and (`recordings#<id>`) the recordings a media server is writing, finished if it dies.
 */
export type DueKind = 'call' | 'delivery' | 'switch' | `server#${string}` | `sessions#${string}` | `recordings#${string}`;

/** The attributes that put an item in the `due` index under `kind`, falling due at `at` (ISO). */
export function dueAttributes(kind: DueKind, at: string): Item {
  return { [TABLE_KEYS.due.partitionKey]: str(`DUE#${kind}`), [TABLE_KEYS.due.sortKey]: str(at) };
}

/** Keys read from an index, and where to read on from (absent when there are no more). */
export interface KeysPage {
  readonly keys: Item[];
  readonly next?: Item;
}

/** Base-table keys (`pk`, `sk`) of up to `limit` items of `kind` that fell due before `now`, oldest first, from `start`. */
export function overdue(dynamo: DynamoDBClient, tableName: string, kind: DueKind, now: Date, limit: number, start?: Item): Promise<KeysPage> {
  return keysBefore(dynamo, tableName, TABLE_KEYS.due, `DUE#${kind}`, now, limit, start);
}

/** Base-table keys of up to `limit` calls whose state changed before `before` without its event being recorded. */
export function unpublished(dynamo: DynamoDBClient, tableName: string, before: Date, limit: number, start?: Item): Promise<KeysPage> {
  return keysBefore(dynamo, tableName, TABLE_KEYS.outbox, 'OUTBOX', before, limit, start);
}

async function keysBefore(
  dynamo: DynamoDBClient,
  tableName: string,
  { indexName, partitionKey, sortKey }: { readonly indexName: string; readonly partitionKey: string; readonly sortKey: string },
  pk: string,
  now: Date,
  limit: number,
  start: Item | undefined,
): Promise<KeysPage> {
  const out = await db(() =>
    dynamo.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: indexName,
        KeyConditionExpression: '#pk = :pk AND #sk < :now',
        ExpressionAttributeNames: { '#pk': partitionKey, '#sk': sortKey },
        ExpressionAttributeValues: { ':pk': str(pk), ':now': str(now.toISOString()) },
        Limit: limit,
        ...(start && { ExclusiveStartKey: start }),
      }),
    ),
  );
  return { keys: out.Items ?? [], ...(out.LastEvaluatedKey && { next: out.LastEvaluatedKey }) };
}

/**
 * The items of `query` (in its order, its filter applied, projected as it asks), evaluating at most `limit` of them:
 * `complete` when that reached the query's end. DynamoDB charges for every item evaluated, filtered out or not, so
 * `limit` bounds what the read costs however many items the query's key range holds.
 */
export async function readAtMost(dynamo: DynamoDBClient, query: QueryCommandInput, limit: number): Promise<{ items: Item[]; complete: boolean }> {
  const items: Item[] = [];
  let evaluated = 0;
  let next: Item | undefined;
  do {
    const out: QueryCommandOutput = await db(() =>
      dynamo.send(new QueryCommand({ ...query, Limit: limit - evaluated, ...(next && { ExclusiveStartKey: next }) })),
    );
    items.push(...(out.Items ?? []));
    evaluated += out.ScannedCount ?? 0;
    next = out.LastEvaluatedKey;
  } while (next && evaluated < limit);
  return { items, complete: !next };
}

/** BatchGetItem reads at most this many keys a request. */
const BATCH_GET_KEYS = 100;
/** How often unprocessed keys (throttling) are asked for again before the read fails. */
const BATCH_GET_TRIES = 5;

/**
 * The items with these base-table keys, eventually consistent (half a read unit per 4 KB of each item), in the
 * keys' order; a key whose item is gone (expired, deleted) is left out.
 */
export async function getByKeys(dynamo: DynamoDBClient, tableName: string, keys: readonly Item[]): Promise<Item[]> {
  const found = new Map<string, Item>();
  const id = (key: Item) => `${key.pk?.S}\n${key.sk?.S}`;
  for (let at = 0; at < keys.length; at += BATCH_GET_KEYS) {
    let wanted: Item[] = keys.slice(at, at + BATCH_GET_KEYS).map((key) => ({ pk: key.pk as AttributeValue, sk: key.sk as AttributeValue }));
    for (let tries = 0; wanted.length > 0; tries++) {
      if (tries === BATCH_GET_TRIES) throw new ServiceUnavailableError('The database is busy; retry the request');
      if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** tries));
      const out = await db(() => dynamo.send(new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: wanted } } })));
      for (const item of out.Responses?.[tableName] ?? []) found.set(id(item), item);
      wanted = out.UnprocessedKeys?.[tableName]?.Keys ?? [];
    }
  }
  return keys.flatMap((key) => {
    const item = found.get(id(key));
    return item ? [item] : [];
  });
}

/** Reads on from `start` until `want` items are in hand or the items end (DynamoDB stops a page at 1 MB). */
async function readOn(
  dynamo: DynamoDBClient,
  query: QueryCommandInput,
  want: number,
  start: Item | undefined,
): Promise<{ items: Item[]; end: boolean }> {
  const items: Item[] = [];
  let next = start;
  do {
    const out: QueryCommandOutput = await db(() =>
      dynamo.send(new QueryCommand({ ...query, Limit: want - items.length, ...(next && { ExclusiveStartKey: next }) })),
    );
    items.push(...(out.Items ?? []));
    next = out.LastEvaluatedKey;
  } while (next && items.length < want);
  return { items, end: !next && items.length < want };
}

/**
 * A keyset walk over a partition's items whose sort key starts with `prefix`, newest (highest key) first: the first
 * `skip` are read for their keys only (eventually consistent), then `take` items from the key after them. `total` is the exact count of the
 * items when the walk reached their end (null when more follow). Reading keys only saves bytes sent, not capacity:
 * DynamoDB charges a query for the whole items it reads (docs/BENCHMARKS.md, "Page numbers").
 */
export async function keysetWalk(
  dynamo: DynamoDBClient,
  tableName: string,
  pk: string,
  prefix: string,
  skip: number,
  take: number,
): Promise<{ items: Item[]; total: number | null }> {
  const query: QueryCommandInput = {
    TableName: tableName,
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
    ExpressionAttributeValues: { ':pk': str(pk), ':prefix': str(prefix) },
    ScanIndexForward: false,
    ConsistentRead: true,
  };
  let start: Item | undefined;
  if (skip > 0) {
    // Eventually consistent: half the capacity of the bulk of a deep page's reads; where a page starts may lag a
    // write by a moment, which page numbers over a changing collection cannot promise anyway.
    const skipped = await readOn(dynamo, { ...query, ProjectionExpression: 'pk, sk', ConsistentRead: false }, skip, undefined);
    if (skipped.end) return { items: [], total: skipped.items.length };
    const last = skipped.items[skipped.items.length - 1] as Item;
    start = { pk: last.pk as AttributeValue, sk: last.sk as AttributeValue };
  }
  const page = await readOn(dynamo, query, take + 1, start);
  return page.items.length > take ? { items: page.items.slice(0, take), total: null } : { items: page.items, total: skip + page.items.length };
}
