import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Shared arbitraries and checks of the fuzz suites: JSON written as text (so keys such as `__proto__`
 * reach the parser as they would on the wire), nasty leaves, and a forced GC for memory bounds.
 */

/** A JSON document as a tree of raw texts, serialised by hand: duplicate and prototype keys survive. */
export type JsonTree = { readonly raw: string } | { readonly items: readonly JsonTree[] } | { readonly entries: readonly (readonly [string, JsonTree])[] };

export function jsonText(tree: JsonTree): string {
  if ('raw' in tree) return tree.raw;
  if ('items' in tree) return `[${tree.items.map(jsonText).join(',')}]`;
  return `{${tree.entries.map(([key, value]) => `${JSON.stringify(key)}:${jsonText(value)}`).join(',')}}`;
}

/** Keys that have tripped JavaScript parsers before: prototype keys and Object.prototype's methods. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'toJSON', 'then'] as const;

/** Leaves no JSON.stringify of a JavaScript value produces: out-of-range and lossy numbers, escapes. */
const oddLiterals = fc.constantFrom('1e309', '-1e309', '-0', '1e-400', '123456789012345678901234567890', '0.1e1', '"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"\\u202e"', '""', 'null', 'true', 'false', '{}', '[]');

/** Strings of any code point, and of whatever a domain suggests, as JSON string literals. */
export function stringLeaf(domain: readonly string[] = []): fc.Arbitrary<string> {
  return fc
    .oneof(
      fc.string({ maxLength: 40, unit: 'binary' }),
      fc.string({ maxLength: 20, unit: 'grapheme' }),
      ...(domain.length ? [fc.constantFrom(...domain)] : []),
      fc.tuple(fc.constantFrom('a', 'é', '😀', '\u0000', ' '), fc.integer({ min: 129, max: 70_000 })).map(([c, n]) => c.repeat(n)),
    )
    .map((s) => JSON.stringify(s));
}

/** Arrays nested `depth` deep: parsers are usually iterative, but whatever walks the value afterwards may not be. */
export const deepNesting = fc.integer({ min: 100, max: 30_000 }).chain((depth) => fc.constantFrom(`${'['.repeat(depth)}${']'.repeat(depth)}`, `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));

export interface TreeOptions {
  /** Keys of the parser's own schema, mixed in with any strings and prototype keys. */
  readonly keys?: readonly string[];
  /** String values the schema might accept. */
  readonly values?: readonly string[];
  readonly maxDepth?: number;
}

/** Any JSON document, biased toward the schema's keys and values and toward awkward literals. */
export function jsonTree(options: TreeOptions = {}): fc.Arbitrary<JsonTree> {
  const key = fc.oneof(
    { weight: 4, arbitrary: options.keys?.length ? fc.constantFrom(...options.keys) : fc.string({ maxLength: 8 }) },
    { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) },
    { weight: 1, arbitrary: fc.string({ maxLength: 12, unit: 'binary' }) },
  );
  const leaf: fc.Arbitrary<JsonTree> = fc
    .oneof(
      { weight: 4, arbitrary: stringLeaf(options.values) },
      { weight: 2, arbitrary: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -1, 1, 60, 100, 1000, 86400, 16000, 2 ** 53)).map((n) => JSON.stringify(n)) },
      { weight: 2, arbitrary: oddLiterals },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
    )
    .map((raw) => ({ raw }));
  const { tree } = fc.letrec<{ tree: JsonTree }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', maxDepth: options.maxDepth ?? 4, withCrossShrink: true },
      leaf,
      fc.array(tie('tree'), { maxLength: 4 }).map((items) => ({ items })),
      fc.array(fc.tuple(key, tie('tree')), { maxLength: 6 }).map((entries) => ({ entries })),
    ),
  }));
  return tree;
}

/** An object document (what the API's schemas take), rarely with a deeply nested value somewhere. */
export function jsonObjectText(options: TreeOptions = {}): fc.Arbitrary<string> {
  const key = options.keys?.length ? fc.oneof(fc.constantFrom(...options.keys), fc.constantFrom(...PROTOTYPE_KEYS)) : fc.constantFrom(...PROTOTYPE_KEYS);
  return fc.oneof(
    { weight: 8, arbitrary: jsonTree(options).map(jsonText) },
    { weight: 4, arbitrary: fc.array(fc.tuple(key, jsonTree(options)), { maxLength: 6 }).map((entries) => jsonText({ entries })) },
    { weight: 1, arbitrary: fc.tuple(fc.array(fc.tuple(key, jsonTree(options)), { maxLength: 3 }), key, deepNesting).map(([entries, k, raw]) => jsonText({ entries: [...entries, [k, { raw }]] })) },
  );
}

let gc: (() => void) | undefined;

/** heapUsed after full collections. Jest runs without --expose-gc, so the flag is set at run time. */
export function heapAfterGc(): number {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Nothing was added to Object.prototype (a polluted prototype shows in every object). */
export function expectPrototypeClean(): void {
  const probe: Record<string, unknown> = {};
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PRISTINE_PROTOTYPE);
  expect(probe.polluted).toBeUndefined();
}

const PRISTINE_PROTOTYPE = Object.getOwnPropertyNames(Object.prototype).sort();

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
