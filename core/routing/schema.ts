import { z } from 'zod';
import { MAX_METADATA_BYTES, metadataSchema } from '../agents/schema';
import { ROOM_ID, ROOM_ID_RULE } from '../connectors/schema';
import { AGENT_ID, RULE_ID } from '../ids';
import { pageQuerySchema } from '../pagination';

/** E.164: + and 8 to 15 digits, no leading zero. */
export const e164 = z.string().regex(/^\+[1-9]\d{7,14}$/, 'must be an E.164 number such as +14155550100');
/** Digits with `*` wildcards, optionally after a +: `+91*`, `+1415555*`, `*`. */
const callerPattern = z
  .string()
  .regex(/^\+?[0-9*]{1,16}$/, 'must be digits with * wildcards, such as +91* or +1415555*');

export const RULE_TYPES = ['inbound', 'outbound'] as const;
export type RuleType = (typeof RULE_TYPES)[number];
export const DYNAMIC_ROOM_PREFIXES = ['blank', 'participantNumber', 'sipNumber', 'random'] as const;
/** Which of a call's SIP headers become participant attributes `sip.h.<name>` (beside `headersToAttributes`). */
export const INCLUDE_HEADERS = ['NONE', 'SIP_X_HEADERS', 'ALL'] as const;
export type IncludeHeaders = (typeof INCLUDE_HEADERS)[number];

/** A room's PIN (stored: nothing asks the caller for it yet). */
const pin = z.string().regex(/^\d{4,12}$/, 'must be 4-12 digits');
const room = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('static'), id: z.string().regex(ROOM_ID, `must be ${ROOM_ID_RULE}`), pin: pin.optional() }),
    z.strictObject({ type: z.literal('dynamic'), prefix: z.enum(DYNAMIC_ROOM_PREFIXES).default('blank'), pin: pin.optional() }),
  ],
  { message: 'must be {type: "static", id, pin?} or {type: "dynamic", prefix?, pin?}' },
);

const name = z.string().trim().min(1, 'must not be empty').max(128, 'must be at most 128 characters');
const agentId = z.string().regex(AGENT_ID, 'must be an agent id (ag_ followed by 16 characters)');
/** SIP header names, as Plivo hands custom ones to the Answer URL: `X-PH-<Name>`. */
const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;
/** A record keyed by header names (checked here: a record's own key check says only "Invalid key in record"). */
const byHeaderName = <T extends z.ZodType>(value: T) =>
  z.record(z.string(), value).refine((record) => Object.keys(record).every((key) => HEADER_NAME.test(key)), 'header names must be 1-64 characters of A-Z a-z 0-9 -');
/** Plivo's `extraHeaders`: `[A-Za-z0-9]` values, at most 512 bytes all told. */
const headers = byHeaderName(z.string().regex(/^[A-Za-z0-9]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9')).refine(
  (value) => Object.entries(value).reduce((bytes, [k, v]) => bytes + k.length + v.length + 2, 0) <= 512,
  'must total at most 512 bytes',
);
const attributeName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . -');
const tag = z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters');

/** The fields PATCH may change: everything but `type`. Bounds keep one rule well under a DynamoDB item's 400 KB. */
const changeable = {
  name,
  phoneNumbers: z.array(e164).max(100, 'at most 100 numbers'),
  room,
  agentId: agentId.nullable(),
  agentMetadata: metadataSchema(MAX_METADATA_BYTES),
  allowedNumbers: z.array(callerPattern).max(100, 'at most 100 patterns'),
  recording: z.boolean(),
  noiseCancellation: z.boolean(),
  noiseCancellationLevel: z.number().int('must be an integer').min(60, 'must be 60-100').max(100, 'must be 60-100').nullable(),
  dtmf: z.boolean(),
  hidePhoneNumber: z.boolean(),
  tags: z.array(tag).max(20, 'at most 20 tags'),
  includeHeaders: z.enum(INCLUDE_HEADERS),
  headersToAttributes: byHeaderName(attributeName).refine((value) => Object.keys(value).length <= 32, 'at most 32 headers'),
  headers,
};

export const createRuleSchema = z
  .strictObject({
    name,
    type: z.enum(RULE_TYPES, { message: `must be one of ${RULE_TYPES.join(', ')}` }),
    phoneNumbers: changeable.phoneNumbers.default([]),
    room: room.optional(),
    agentId: changeable.agentId.default(null),
    agentMetadata: changeable.agentMetadata.default({}),
    allowedNumbers: changeable.allowedNumbers.default([]),
    recording: changeable.recording.default(false),
    noiseCancellation: changeable.noiseCancellation.default(false),
    noiseCancellationLevel: changeable.noiseCancellationLevel.default(null),
    dtmf: changeable.dtmf.default(true),
    hidePhoneNumber: changeable.hidePhoneNumber.default(false),
    tags: changeable.tags.default([]),
    includeHeaders: changeable.includeHeaders.default('NONE'),
    headersToAttributes: changeable.headersToAttributes.default({}),
    headers: changeable.headers.default({}),
  })
  .meta({ id: 'RoutingRuleCreate' });

const CHANGEABLE = Object.keys(changeable).join(', ');

export const updateRuleSchema = z
  .strictObject(changeable)
  .partial()
  .extend({ type: z.unknown().refine((value) => value === undefined, 'cannot be changed: create a rule of the other type').optional() })
  .refine((body) => Object.values(body).some((value) => value !== undefined), { message: `must change at least one of ${CHANGEABLE}` })
  .meta({ id: 'RoutingRuleUpdate' });

export type RuleBody = z.output<typeof createRuleSchema>;
export type RuleUpdate = Omit<z.output<typeof updateRuleSchema>, 'type'>;

export const listRulesQuerySchema = pageQuerySchema.extend({
  search: z.string().trim().min(1, 'must not be empty').max(128, 'must be at most 128 characters').optional(),
  type: z.enum(RULE_TYPES, { message: `must be one of ${RULE_TYPES.join(', ')}` }).optional(),
});

/** A routing rule as the API shows it (`RoutingRuleView`): `numbers` repeats `phoneNumbers`, as VideoSDK's rule has it. */
export const ruleViewSchema = createRuleSchema
  .extend({
    id: z.string().regex(RULE_ID),
    room: room.nullable(),
    numbers: z.array(z.string()),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'RoutingRule' });
