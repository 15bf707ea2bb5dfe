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
