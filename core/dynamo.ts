import { ConditionalCheckFailedException, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ServiceUnavailableError } from './errors';

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

/**
 * Runs one database call. Faults the caller can do nothing about (unreachable database, throttling,
 * timeouts) become a 503 with a clear message; everything else is rethrown as is.
 */
export async function db<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (isConditionFailure(err) || !isUnavailable(err)) throw err;
    throw new ServiceUnavailableError('The database is unavailable; retry shortly');
  }
}

const RETRYABLE = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
]);

function isUnavailable(err: unknown): boolean {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } } | null;
  if (!e) return false;
  if (e.name && RETRYABLE.has(e.name)) return true;
  if (e.code && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)$/.test(e.code)) return true;
  return (e.$metadata?.httpStatusCode ?? 0) >= 500;
}
