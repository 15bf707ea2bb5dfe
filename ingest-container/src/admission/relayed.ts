import type { IncomingMessage } from 'node:http';
import type { RelayAuth } from '../cluster/relay-auth';
import { Refusal } from '../transport/refuse';
import { joinSchema, type Join } from './join';

/**
 * Admits a join a peer relays here (the relay port): signed with this server's relay secret, fresh and not seen
 * before (`RelayAuth`), and a valid join. Returns it with the peer that relayed it; throws a `Refusal` otherwise.
 */
export function admitRelayed(req: IncomingMessage, relayAuth: RelayAuth): { join: Join; from: string } {
  const signed = relayAuth.check(req.headers);
  if (!signed.ok) throw new Refusal('forbidden', signed.why);
  let join: Join;
  try {
    join = joinSchema.parse(JSON.parse(Buffer.from(signed.join, 'base64url').toString('utf8')));
  } catch {
    throw new Refusal('bad_request', 'Relay join header invalid');
  }
  return { join, from: signed.from.slice(0, 64) };
}
