import type { IncomingMessage } from 'node:http';
import { requirePermission, requireRoomAccess, type Authenticator } from '../../../core/auth';
import { ROOM_ID, ROOM_ID_RULE } from '../../../core/connectors/schema';
import { ROOM_RATES, type SampleRate } from '../../../core/rooms';
import { Refusal } from '../transport/refuse';
import type { Join } from './join';
import type { RoomGate } from './room-gate';

/**
 * Admits a participant joining over the room protocol (`/rooms/{roomId}`): a token with `allow_join` for this
 * tenant's room (a participant token only for the room it names), in `Authorization` or `?token=`. Joining as an
 * agent (which may send speech ahead) takes `allow_agent` too: participant tokens, the kind handed to browsers,
 * lack it. The room must not be deactivated (`RoomGate`), and the join goes to the name the room is kept by. Resolves
 * the join; throws a `Refusal` (or the token's `ApiError`) otherwise.
 */
export async function admitParticipant(req: IncomingMessage, url: URL, roomPath: string, auth: Authenticator, rooms: RoomGate): Promise<Join> {
  const token = url.searchParams.get('token');
  const principal = await auth.authenticate(req.headers.authorization ?? (token === null ? undefined : `Bearer ${token}`));
  if (!ROOM_ID.test(roomPath)) throw new Refusal('bad_request', `Invalid room id: use ${ROOM_ID_RULE}`);
  const rate = Number(url.searchParams.get('sampleRate') ?? 16000);
  if (!(ROOM_RATES as readonly number[]).includes(rate)) throw new Refusal('bad_request', `sampleRate must be one of ${ROOM_RATES.join(', ')}`);
  const kind = url.searchParams.get('kind') ?? 'web';
  if (kind !== 'web' && kind !== 'agent') throw new Refusal('bad_request', 'kind must be web or agent');
  requireRoomAccess(principal, roomPath);
  if (kind === 'agent') requirePermission(principal, 'allow_agent');
  const roomId = await rooms.admit(principal.tenant, roomPath);
  return { type: 'participant', tenant: principal.tenant, roomId, kind, rate: rate as SampleRate, wantsLevels: url.searchParams.get('levels') === '1' };
}
