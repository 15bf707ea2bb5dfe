import type { IncomingMessage } from 'node:http';
import type { ClaimStore } from '../../../core/claims';
import type { PlivoAuthTokens } from '../../../core/connectors/plivo-tokens';
import type { ConnectorStore } from '../../../core/connectors/store';
import { SIGNATURE_REFUSALS } from '../../../core/plivo/signature';
import { Refusal } from '../transport/refuse';
import type { Join } from './join';

export interface PlivoAdmissionDeps {
  /** The media region whose claims this server takes. */
  readonly region: string;
  /** Names this server in the claims it takes. */
  readonly serverId: string;
  /** This region's public ingest base (`wss://host`): what Plivo signs the upgrade against. */
  readonly ingestUrl: string;
  readonly claims: ClaimStore;
  readonly connectors: ConnectorStore;
  readonly tokens: PlivoAuthTokens;
  /** Counts a refused claim (an unknown, used or expired one, or a bad or missing Plivo signature). */
  readonly onClaimRefused: () => void;
}

const CLAIM_REFUSALS = { unknown: 'unauthorized', used: 'forbidden', expired: 'claim_expired' } as const;

/**
 * Admits a Plivo stream (`/plivo?ref=...`): the claim must exist, the upgrade must be signed under the connector's
 * signature policy, and then the claim is taken with one conditional write (pending, unexpired -> this server's).
 * Resolves the join; throws a `Refusal` (with the call's ids once its claim is found) otherwise.
 */
export async function admitPlivo(req: IncomingMessage, url: URL, deps: PlivoAdmissionDeps): Promise<Join> {
  const ref = url.searchParams.get('ref');
  if (!ref || ref.length > 128) throw new Refusal('unauthorized', 'The stream URL has no claim ref');
  const found = await deps.claims.peek(deps.region, ref);
  if (!found) {
    deps.onClaimRefused();
    throw new Refusal('unauthorized', 'Unknown claim ref');
  }
  const ids = { tenant: found.tenant, callId: found.callId, callUuid: found.callUuid, roomId: found.roomId };
  const connector = await deps.connectors.get(found.tenant, found.connectorId);
  const external = new URL(deps.ingestUrl);
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]));
  // Plivo signs the upgrade as a GET with V3 headers.
  const signature = connector ? await deps.tokens.verify(connector, { method: 'GET', url: `${external.protocol}//${external.host}${url.pathname}${url.search}`, params: new Map(), headers }) : 'unsigned';
  if (signature !== 'valid' && signature !== 'unsigned') {
    deps.onClaimRefused();
    throw new Refusal('forbidden', SIGNATURE_REFUSALS[signature], ids);
  }
  const claim = await deps.claims.take(deps.region, ref, deps.serverId);
  if (typeof claim === 'string') {
    deps.onClaimRefused();
    throw new Refusal(CLAIM_REFUSALS[claim], `Claim ref ${claim}`, ids);
  }
  return { type: 'plivo', claim };
}
