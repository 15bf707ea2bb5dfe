import { z } from 'zod';
import { ROOM_ID, ROOM_ID_RULE } from '../connectors/schema';
import { ROOM_RATES } from '../rooms';

/** E.164: + and 8 to 15 digits, no leading zero. */
const e164 = z.string().regex(/^\+[1-9]\d{7,14}$/, 'must be an E.164 number such as +14155550100');
/** Digits with `*` wildcards, optionally after a +: `+91*`, `+1415555*`, `*`. */
const callerPattern = z
  .string()
  .regex(/^\+?[0-9*]{1,16}$/, 'must be digits with * wildcards, such as +91* or +1415555*');

export const DYNAMIC_ROOM_PREFIXES = ['call', 'participantNumber', 'sipNumber', 'random'] as const;
const MAX_METADATA_BYTES = 4096;
/**
 * Agents get the metadata as JSON; deeper values are refused before anything walks them (JSON.stringify
 * recurses, and a 64 KB body holds 30,000 levels: enough to overflow the stack).
 */
const MAX_METADATA_DEPTH = 32;

/** How deeply `value` nests arrays and objects (a scalar is 0), without recursion; stops counting past `limit`. */
function depthOf(value: unknown, limit: number): number {
  let deepest = 0;
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, depth] = next;
    if (typeof item !== 'object' || item === null) continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > limit) return deepest;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return deepest;
}

const match = z.strictObject({
  phoneNumbers: z.array(e164).max(100, 'at most 100 numbers').optional(),
  callerPatterns: z.array(callerPattern).max(100, 'at most 100 patterns').optional(),
});

const room = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('static'), id: z.string().regex(ROOM_ID, `must be ${ROOM_ID_RULE}`) }),
    z.strictObject({ type: z.literal('dynamic'), prefix: z.enum(DYNAMIC_ROOM_PREFIXES).default('call') }),
  ],
  { message: 'must be {type: "static", id} or {type: "dynamic", prefix?}' },
);

export const agentSchema = z.strictObject({
  url: z
    .string()
    .max(2048)
    .refine((value) => URL.canParse(value) && ['ws:', 'wss:'].includes(new URL(value).protocol), 'must be a ws:// or wss:// URL'),
  sampleRate: z
    .literal(ROOM_RATES, { message: `must be one of ${ROOM_RATES.join(', ')}` })
    .default(16000),
  metadata: z
    .record(z.string(), z.unknown())
    .superRefine((value, ctx) => {
      // One check after the other: the size is measured only once the depth is known to be safe to walk.
      if (depthOf(value, MAX_METADATA_DEPTH) > MAX_METADATA_DEPTH) ctx.addIssue({ code: 'custom', message: `must nest at most ${MAX_METADATA_DEPTH} levels deep` });
      else if (Buffer.byteLength(JSON.stringify(value)) > MAX_METADATA_BYTES) ctx.addIssue({ code: 'custom', message: `must serialise to at most ${MAX_METADATA_BYTES} bytes` });
    })
    .optional(),
});

const name = z.string().trim().min(1, 'must not be empty').max(128, 'must be at most 128 characters');
const priority = z.number().int('must be an integer').min(0, 'must be 0-1000').max(1000, 'must be 0-1000');

export const createRuleSchema = z.strictObject({
  name,
  priority: priority.default(100),
  match,
  room,
  agent: agentSchema.nullish(),
});

export const updateRuleSchema = z
  .strictObject({ name: name.optional(), priority: priority.optional(), match: match.optional(), room: room.optional(), agent: agentSchema.nullable().optional() })
  .refine((body) => Object.values(body).some((value) => value !== undefined), {
    message: 'must change at least one of name, priority, match, room, agent',
  });

export type RuleBody = z.output<typeof createRuleSchema>;
export type RuleUpdate = z.output<typeof updateRuleSchema>;

/** A routing rule as the API shows it (`RoutingRuleView`). */
export const ruleViewSchema = createRuleSchema
  .extend({
    id: z.string().regex(/^rr_[0-9a-z]{16}$/),
    agent: agentSchema.nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'RoutingRule' });
