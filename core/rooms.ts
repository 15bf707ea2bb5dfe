import { z } from 'zod';
import { mintToken } from './auth';
import { ROOM_ID, ROOM_ID_RULE } from './connectors/schema';
import { BadRequestError } from './errors';
import type { TenantStore } from './tenants';

/** The sample rates rooms speak: phones at 8 kHz, agents and browsers at any of these. */
export const ROOM_RATES = [8000, 16000, 24000, 48000] as const;
export type SampleRate = (typeof ROOM_RATES)[number];

export const roomTokenSchema = z.strictObject({
  ttlSeconds: z.number().int('must be an integer').min(60, 'must be 60-86400').max(86400, 'must be 60-86400').default(3600),
});

export const roomTokenViewSchema = z
  .strictObject({ token: z.string(), roomId: z.string(), permissions: z.tuple([z.literal('allow_join')]), expiresAt: z.iso.datetime() })
  .meta({ id: 'RoomToken' });
export type RoomToken = z.output<typeof roomTokenViewSchema>;

/** Participant tokens: `allow_join` for one room of the tenant, for a browser or agent to join with. */
export class RoomTokenService {
  constructor(private readonly tenants: Pick<TenantStore, 'getSecret'>) {}

  async mint(tenant: string, roomId: string, ttlSeconds: number): Promise<RoomToken> {
    if (!ROOM_ID.test(roomId)) throw new BadRequestError(`Invalid room id: use ${ROOM_ID_RULE}`);
    const secret = await this.tenants.getSecret(tenant);
    // The caller authenticated with this tenant's secret a moment ago.
    if (!secret) throw new Error(`Tenant ${tenant} has no secret`);
    const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
    const token = await mintToken(secret, { apikey: tenant, permissions: ['allow_join'], ttlSeconds, roomId });
    return { token, roomId, permissions: ['allow_join'], expiresAt: new Date(Math.floor(expiresAt.getTime() / 1000) * 1000).toISOString() };
  }
}
