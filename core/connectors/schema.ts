import { z } from 'zod';
import { RULE_ID } from '../ids';
import { queryInteger } from '../pagination';
import { PROVIDER_IDS } from '../providers';

export const ROOM_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
/** What `ROOM_ID` takes, as every message about a bad room id says it. */
export const ROOM_ID_RULE = '1-128 characters of A-Z a-z 0-9 _ -, starting with a letter or digit';

const name = z.string().trim().min(1, 'must not be empty').max(128, 'must be at most 128 characters');
const roomId = z.string().regex(ROOM_ID, `must be ${ROOM_ID_RULE}`);
const ruleId = z.string().regex(RULE_ID, 'must be a routing rule id (rr_ followed by 16 characters)');
/** Plivo auth ids: `MA` (an account) or `SA` (a subaccount) and 18 upper-case alphanumerics. */
export const PLIVO_AUTH_ID = /^[MS]A[A-Z0-9]{18}$/;
const authId = z.string().regex(PLIVO_AUTH_ID, 'must be a Plivo auth id: MA or SA followed by 18 characters of A-Z 0-9');
/** Plivo auth tokens are 40 alphanumerics; allow some slack for other providers' secrets. */
const authToken = z.string().regex(/^[A-Za-z0-9+/=_-]{16,128}$/, 'must be 16-128 characters of A-Z a-z 0-9 + / = _ -');

function region(mediaRegions: readonly string[]) {
  return z.string().refine((value) => mediaRegions.includes(value), {
    message: `must be one of the configured media regions: ${mediaRegions.join(', ')}`,
  });
}

export function createConnectorSchema(mediaRegions: readonly string[]) {
  return z.strictObject({
    provider: z.enum(PROVIDER_IDS, { message: `must be one of the supported providers: ${PROVIDER_IDS.join(', ')}` }),
    name: name.nullish(),
    defaultRoomId: roomId.nullish(),
    defaultRuleId: ruleId.nullish(),
    region: region(mediaRegions).nullish(),
    plivoAuthId: authId.nullish(),
    plivoAuthToken: authToken.nullish(),
  });
}

export function updateConnectorSchema(mediaRegions: readonly string[]) {
  return z
    .strictObject({
      name: name.nullable().optional(),
      defaultRoomId: roomId.nullable().optional(),
      defaultRuleId: ruleId.nullable().optional(),
      region: region(mediaRegions).nullable().optional(),
      plivoAuthId: authId.nullable().optional(),
      plivoAuthToken: authToken.nullable().optional(),
    })
    .refine((body) => Object.values(body).some((value) => value !== undefined), {
      message: 'must change at least one of name, defaultRoomId, defaultRuleId, region, plivoAuthId, plivoAuthToken',
    });
}

export type CreateConnectorInput = z.output<ReturnType<typeof createConnectorSchema>>;
export type UpdateConnectorInput = z.output<ReturnType<typeof updateConnectorSchema>>;

export const listQuerySchema = z.strictObject({
  limit: queryInteger(1, 100, 20),
  cursor: z.string().max(200).optional(),
});

const timestamp = z.iso.datetime();

/** A connector as the API shows it (`ConnectorView`). */
export const connectorViewSchema = z
  .strictObject({
    id: z.string().regex(/^cn_[0-9a-z]{16}$/),
    provider: z.enum(PROVIDER_IDS),
    name: z.string().nullable(),
    webhookUrl: z.url().meta({ description: "The Answer URL to set in Plivo's application" }),
    defaultRoomId: z.string().nullable(),
    defaultRuleId: z.string().nullable(),
    region: z.string().nullable(),
    plivoAuthIdSet: z.boolean().meta({ description: 'Whether the connector holds a Plivo auth id (never returned)' }),
    plivoAuthTokenSet: z.boolean().meta({ description: 'Whether the connector holds a Plivo auth token (never returned)' }),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Connector' });

/** The cursor-paged list shape of the connectors (the contract's), the calls of today, and deliveries. */
export const cursorPageSchema = <T extends z.ZodType>(item: T) =>
  z.strictObject({ data: z.array(item), pageInfo: z.strictObject({ limit: z.number().int(), nextCursor: z.string().nullable() }) });
