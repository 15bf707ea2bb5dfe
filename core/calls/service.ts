import { z } from 'zod';
import { ROOM_ID, ROOM_ID_RULE } from '../connectors/schema';
import { CONNECTOR_ID } from '../ids';
import { BadRequestError, NotFoundError } from '../errors';
import { CALL_ID, CALL_STATUSES, toCallView, type CallView } from './model';
import type { CallFilter, CallPosition, CallStore } from './store';

export const listCallsQuerySchema = z.strictObject({
  connectorId: z.string().regex(CONNECTOR_ID, 'must be a connector id').optional(),
  status: z.enum(CALL_STATUSES, { message: `must be one of ${CALL_STATUSES.join(', ')}` }).optional(),
  roomId: z.string().regex(ROOM_ID, `must be ${ROOM_ID_RULE}`).optional(),
  limit: z.coerce.number().int('must be an integer').min(1, 'must be at least 1').max(100, 'must be at most 100').default(20),
  cursor: z.string().max(300).optional(),
});

/** Cursors name where the previous page stopped: its last call's start time and id. */
function encodeCursor(position: CallPosition): string {
  return Buffer.from(JSON.stringify([position.startedAt, position.id])).toString('base64url');
}

function decodeCursor(cursor: string): CallPosition {
  try {
    const [startedAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof startedAt === 'string' && !Number.isNaN(Date.parse(startedAt)) && typeof id === 'string' && CALL_ID.test(id)) return { startedAt, id };
  } catch {
    // falls through to the 400
  }
  throw new BadRequestError('Invalid cursor', [{ field: 'cursor', message: 'Invalid cursor' }]);
}

/** Call records, read-only through the API and scoped to the calling tenant. */
export class CallService {
  constructor(private readonly calls: CallStore) {}

  async list(tenant: string, filter: CallFilter, limit: number, cursor?: string): Promise<{ items: CallView[]; nextCursor: string | null }> {
    const page = await this.calls.list(tenant, filter, limit, cursor === undefined ? undefined : decodeCursor(cursor));
    return { items: page.items.map(toCallView), nextCursor: page.next && encodeCursor(page.next) };
  }

  async get(tenant: string, id: string): Promise<CallView> {
    const call = CALL_ID.test(id) ? await this.calls.get(tenant, id) : null;
    if (!call) throw new NotFoundError(`Call ${id} not found`);
    return toCallView(call);
  }
}
