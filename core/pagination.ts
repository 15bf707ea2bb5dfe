import { z } from 'zod';
import { BadRequestError } from './errors';

/** One page of a tenant's resources, newest first. */
export interface Page<T> {
  readonly items: readonly T[];
  /** Id of the last item returned when more follow, else null. */
  readonly lastId: string | null;
}

/** Cursors are opaque to clients; inside they name the last item of the previous page. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, idPattern: RegExp): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!idPattern.test(id)) throw new BadRequestError('Invalid cursor', [{ field: 'cursor', message: 'Invalid cursor' }]);
  return id;
}

/**
 * A whole number in a query string, `min`..`max`, `fallback` when left out: digits alone (not ` 2`, `1e1`, `0x10`,
 * `2.0`, which a plain coercion would take).
 */
export function queryInteger(min: number, max: number, fallback: number) {
  const digits = (value: unknown) => (typeof value === 'string' && /^[0-9]{1,9}$/.test(value) ? Number(value) : value);
  return z.preprocess(digits, z.number({ error: 'must be an integer' }).int('must be an integer').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`).default(fallback));
}

/**
 * The list convention of the SIP resources (VideoSDK's): `page` (1-based) and `perPage` (1-100, 10 by default).
 * Query strings only: a number the client did not send as digits is refused, never guessed.
 */
export const pageQuerySchema = z.strictObject({
  page: queryInteger(1, 1_000_000, 1),
  perPage: queryInteger(1, 100, 10),
});
export type PageRequest = z.output<typeof pageQuerySchema>;

export const pageInfoSchema = z
  .strictObject({
    currentPage: z.number().int().min(1),
    perPage: z.number().int().min(1).max(100),
    /** At least 1: an empty collection has one empty page. */
    lastPage: z.number().int().min(1),
    total: z.number().int().min(0),
    totalIsLowerBound: z
      .literal(true)
      .optional()
      .meta({
        description:
          'Present when a listing too large to count whole (the call log, a webhook\'s deliveries) stopped reading: `total` counts the newest items it read, pages up to `lastPage` list them, and older items are reached by narrowing the listing (the call log\'s `endDate`)',
      }),
  })
  .meta({ id: 'PageInfo' });
export type PageInfo = z.output<typeof pageInfoSchema>;

/** The body of a numbered list: `{data, pageInfo}`. */
export const numberedPageSchema = <T extends z.ZodType>(item: T) => z.strictObject({ data: z.array(item), pageInfo: pageInfoSchema });
export interface NumberedPage<T> {
  readonly data: readonly T[];
  readonly pageInfo: PageInfo;
}

/** Where a numbered listing reads: how many items there are (a counter), and a keyset walk over them in list order. */
export interface NumberedSource<T> {
  /** The counted total; it may run ahead of the items after a crash between an item's write and the count's. */
  total(): Promise<number>;
  /** `take` items after the first `skip`; `total` is the exact count when the walk reached the end, else null. */
  walk(skip: number, take: number): Promise<{ readonly items: readonly T[]; readonly total: number | null }>;
  /** Counts the items themselves (keys only): when a walk found more than the counter holds. */
  count(): Promise<number>;
  /** Told the real total when a walk reached the end and found the counter wrong. */
  recount(counted: number, actual: number): Promise<void>;
}

/**
 * One page by number. The total comes from the counter (one read); a page past the last answers empty without a
 * walk. A walk that reaches the end knows the real total, which it answers (and hands to `recount`) when the
 * counter disagrees.
 */
export async function numberedPage<T>(request: PageRequest, source: NumberedSource<T>): Promise<NumberedPage<T>> {
  const { page, perPage } = request;
  const counted = await source.total();
  const info = (total: number): PageInfo => ({ currentPage: page, perPage, lastPage: Math.max(1, Math.ceil(total / perPage)), total });
  if (page > info(counted).lastPage) return { data: [], pageInfo: info(counted) };
  const walked = await source.walk((page - 1) * perPage, perPage);
  const { items } = walked;
  // More follow the counted last page: the counter is low (it should only ever run high), so the items are counted.
  const total = walked.total ?? (page === info(counted).lastPage ? await source.count() : null);
  if (total === null || total === counted) return { data: items, pageInfo: info(counted) };
  await source.recount(counted, total);
  return { data: items, pageInfo: info(total) };
}

/** What a capped read found: the matching items in list order, and whether it reached the listing's end. */
export interface CappedRead<K> {
  readonly items: readonly K[];
  readonly complete: boolean;
}

/**
 * One page by number over a listing too large to count whole (no counter can follow it: its items expire by TTL, its
 * filters are many): `read` reads at most a bounded number of items, `total` counts the matches it found, exactly
 * when the read was `complete`, else as a lower bound (`totalIsLowerBound`); `load` turns the page's slice of them
 * into what the page shows. A page past what was read answers empty, as a page past the last does.
 */
export async function cappedPage<K, T>(request: PageRequest, read: () => Promise<CappedRead<K>>, load: (items: readonly K[]) => Promise<readonly T[]>): Promise<NumberedPage<T>> {
  const { page, perPage } = request;
  const { items, complete } = await read();
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const pageInfo: PageInfo = {
    currentPage: page,
    perPage,
    lastPage: Math.max(1, Math.ceil(items.length / perPage)),
    total: items.length,
    ...(!complete && { totalIsLowerBound: true as const }),
  };
  return { data: slice.length > 0 ? await load(slice) : [], pageInfo };
}
