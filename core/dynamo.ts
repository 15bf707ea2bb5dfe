import { ConditionalCheckFailedException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { callDependency } from './errors';

/** The control table's key schema: one table, generic keys, TTL on `expiresAt` (epoch seconds). */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk', timeToLive: 'expiresAt' } as const;

export type Item = Record<string, AttributeValue>;

export const str = (value: string): AttributeValue => ({ S: value });
export const bin = (value: Uint8Array): AttributeValue => ({ B: value });

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

/** Runs one database call; an unreachable or throttling database becomes a 503. */
export function db<T>(call: () => Promise<T>): Promise<T> {
  return callDependency('database', call);
}
