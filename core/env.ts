import { z } from 'zod';
import { LOG_LEVELS } from './log';

/**
 * The one parser of environment values, used by the Lambdas (`core/config.ts`), the media server
 * (`ingest-container/src/config.ts`) and `npm start` (`local/config.ts`): each kind of value is checked in one place
 * and refused with one wording, `NAME must be <what>, got "<value>"`.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type Env = Readonly<Record<string, string | undefined>>;

/** A schema of a (trimmed, non-blank) value whose refusals say `must ...`. */
export type EnvSchema<T> = z.ZodType<T, string>;

function integerRule(min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER) return min === 1 ? 'a positive integer' : `a whole number from ${min}`;
  return `a whole number ${min}-${max}`;
}

const isInteger = (min: number, max: number) => (n: number) => Number.isInteger(n) && n >= min && n <= max;

/** The kinds of value the environment holds. */
export const envValue = {
  integer: (min: number, max = Number.MAX_SAFE_INTEGER): EnvSchema<number> =>
    z.string().transform(Number).refine(isInteger(min, max), `must be ${integerRule(min, max)}`),
  /** A TCP port to listen on; 0 takes any free one. */
  port: (): EnvSchema<number> => z.string().transform(Number).refine(isInteger(0, 65535), 'must be 0-65535 (0: any free port)'),
  /** Up to `maxItems` comma-separated whole numbers `min`-`max`, each a `unit` (`60,120,240`). */
  integers: (min: number, max: number, maxItems: number, unit: string): EnvSchema<number[]> =>
    z
      .string()
      .transform((value) => value.split(',').map((part) => Number(part.trim())))
      .refine((items) => items.length <= maxItems && items.every(isInteger(min, max)), `must be up to ${maxItems} comma-separated ${unit} (${min}-${max})`),
  boolean: (): EnvSchema<boolean> => z.enum(['true', 'false'], 'must be true or false').transform((value) => value === 'true'),
  /** Comma-separated names, blanks dropped. */
  list: (): EnvSchema<string[]> => z.string().transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean)),
  logLevel: () => z.enum(LOG_LEVELS, `must be ${LOG_LEVELS.slice(0, -1).join(', ')} or ${LOG_LEVELS.at(-1)}`),
  /** An absolute URL of one of `protocols`, without query or fragment; normalised, without a trailing slash. */
  url: (protocols: readonly string[]): EnvSchema<string> =>
    z.string().transform((value, ctx) => {
      const refuse = (message: string) => {
        ctx.issues.push({ code: 'custom', message, input: value });
        return z.NEVER;
      };
      let parsed: URL;
      try {
        parsed = new URL(value);
      } catch {
        return refuse('must be an absolute URL');
      }
      if (!protocols.includes(parsed.protocol)) return refuse(`must use ${protocols.join(' or ')}`);
      if (parsed.search || parsed.hash) return refuse('must not have a query or fragment');
      return parsed.toString().replace(/\/+$/, '');
    }),
} as const;

/** `value` (named `name` in the error) read by `schema`. */
export function parseValue<T>(name: string, value: string, schema: EnvSchema<T>): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigError(`${name} ${result.error.issues[0]?.message ?? 'is invalid'}, got "${value}"`);
}

/** The variable `name` read by `schema`; `fallback` when it is unset or blank. */
export function readEnv<T, F = T>(env: Env, name: string, schema: EnvSchema<T>, fallback: F): T | F {
  const value = env[name]?.trim();
  return value ? parseValue(name, value, schema) : fallback;
}

/** The variable `name`, which must be set (and not blank). */
export function requiredEnv(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`Missing required environment variable ${name}`);
  return value;
}
