import { z } from 'zod';
import { AGENT_ID } from '../ids';
import { ROOM_RATES } from '../rooms';

/** An agent's own metadata, and a rule's `agentMetadata`, each serialise to at most this many bytes. */
export const MAX_METADATA_BYTES = 4096;
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

/** JSON metadata for an agent's `joined`, bounded in depth and then (once safe to walk) in size. */
export const metadataSchema = (maxBytes: number) =>
  z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
    if (depthOf(value, MAX_METADATA_DEPTH) > MAX_METADATA_DEPTH) ctx.addIssue({ code: 'custom', message: `must nest at most ${MAX_METADATA_DEPTH} levels deep` });
    else if (Buffer.byteLength(JSON.stringify(value)) > maxBytes) ctx.addIssue({ code: 'custom', message: `must serialise to at most ${maxBytes} bytes` });
  });

/** Where the bridge dials: the address policy (public wss in AWS) is checked by the service, which resolves hosts. */
const url = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .refine((value) => URL.canParse(value) && ['ws:', 'wss:'].includes(new URL(value).protocol), 'must be a ws:// or wss:// URL');
const sampleRate = z.literal(ROOM_RATES, { message: `must be one of ${ROOM_RATES.join(', ')}` });
const name = z.string().trim().min(1, 'must not be empty').max(128, 'must be at most 128 characters');

export const createAgentSchema = z
  .strictObject({ name, url, sampleRate: sampleRate.default(16000), metadata: metadataSchema(MAX_METADATA_BYTES).default({}) })
  .meta({ id: 'AgentCreate' });

export const updateAgentSchema = z
  .strictObject({ name: name.optional(), url: url.optional(), sampleRate: sampleRate.optional(), metadata: metadataSchema(MAX_METADATA_BYTES).optional() })
  .refine((body) => Object.values(body).some((value) => value !== undefined), { message: 'must change at least one of name, url, sampleRate, metadata' })
  .meta({ id: 'AgentUpdate' });

export type AgentBody = z.output<typeof createAgentSchema>;
export type AgentUpdate = z.output<typeof updateAgentSchema>;

/**
 * What a claim carries to the media server to dial: the agent's url and rate, and its metadata with the rule's
 * `agentMetadata` merged over it (so up to twice the bytes of either).
 */
export const agentDialSchema = z.strictObject({ url, sampleRate, metadata: metadataSchema(2 * MAX_METADATA_BYTES).optional() });
export type AgentDial = z.output<typeof agentDialSchema>;

const timestamp = z.iso.datetime();

/** An agent as the API shows it (`AgentView`). */
export const agentSchema = z
  .strictObject({
    id: z.string().regex(AGENT_ID),
    name: z.string(),
    url: z.string(),
    sampleRate,
    metadata: z.record(z.string(), z.unknown()),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Agent' });
