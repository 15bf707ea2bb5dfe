import type { IncomingMessage } from 'node:http';
import type { Logger } from '../../../core/log';
import type { RelayAuth } from '../cluster/relay-auth';
import { Refusal } from '../transport/refuse';
import { joinSchema, roomOf, type Join } from './join';

/**
 * Admits a join a peer relays here (the relay port): signed with this server's relay secret, fresh and not seen
 * before (`RelayAuth`), and a valid join. Returns it with its log; throws a `Refusal` otherwise.
 */
export function admitRelayed(req: IncomingMessage, relayAuth: RelayAuth, log: Logger): { join: Join; log: Logger } {
  const signed = relayAuth.check(req.headers);
  if (!signed.ok) {
    log.warn('relayed connection refused', { why: signed.why, status: 403 });
    throw new Refusal('forbidden', signed.why);
  }
  let join: Join;
  try {
    join = joinSchema.parse(JSON.parse(Buffer.from(signed.join, 'base64url').toString('utf8')));
  } catch {
    throw new Refusal('bad_request', 'Relay join header invalid');
  }
  const { tenant, roomId } = roomOf(join);
  return { join, log: log.child({ tenant, roomId, relayedFrom: signed.from.slice(0, 64), ...(join.type === 'plivo' && { callId: join.claim.callId, callUuid: join.claim.callUuid }) }) };
}
