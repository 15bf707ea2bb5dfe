import type { z } from 'zod';
import { BadRequestError, type FieldError } from './errors';

/** Parses `input` with `schema`, or throws a 400 naming every offending field. */
export function parseWith<T extends z.ZodType>(schema: T, input: unknown, what = 'request body'): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors: FieldError[] = [];
  for (const issue of result.error.issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) errors.push({ field: base ? `${base}.${key}` : key, message: 'Unknown field' });
    } else {
      errors.push({ field: base || '(root)', message: issue.message });
    }
  }
  const summary = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
  throw new BadRequestError(`Invalid ${what}: ${summary}`, errors);
}
