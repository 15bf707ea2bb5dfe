import fc from 'fast-check';
import { createHmac, randomBytes } from 'node:crypto';
import { Authenticator, MAX_TOKEN_LIFETIME_SECONDS, mintToken, type Principal } from '../../core/auth';
import { ApiError } from '../../core/errors';
import { startTestStack, type TestStack } from '../support/stack';
import { jsonText, jsonTree, PROTOTYPE_KEYS, type JsonTree } from './support';

/**
 * Token verification (core/auth.ts) under arbitrary input: garbage, mutations of a valid token, tokens
 * re-signed with other algorithms or claims of the wrong type, expired and not-yet-valid ones, huge ones.
 * Each is refused with a 401 (an UnauthorizedError), never accepted, never another error (a 500).
 */
const TENANT = 'acme';
const SECRET = 'fuzz-secret-0123456789abcdefghijklmnopqrstuvwxyz';
const auth = new Authenticator({ getSecret: (apikey) => Promise.resolve(apikey === TENANT ? SECRET : null) });
const now = () => Math.floor(Date.now() / 1000);

type Verdict = { accepted: Principal } | { status: number; message: string };

async function verdict(authorization: string | undefined): Promise<Verdict> {
  try {
    return { accepted: await auth.authenticate(authorization) };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { status: err.status, message: err.message };
  }
}

function expectRefused(result: Verdict): void {
  expect(result).toEqual({ status: 401, message: expect.stringMatching(/^(Invalid token|Token expired|Missing Authorization header: .+)$/) });
}

const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64url');
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

let valid: string;
beforeAll(async () => {
  valid = await mintToken(SECRET, { apikey: TENANT, ttlSeconds: 3600 });
});

it('takes the untouched token (the properties below would pass vacuously otherwise)', async () => {
  const result = await verdict(`Bearer ${valid}`);
  expect(result).toEqual({ accepted: { tenant: TENANT, permissions: new Set(['allow_join', 'allow_mod', 'allow_agent']), roomId: null } });
});

it('refuses arbitrary strings', async () => {
  const garbage = fc.oneof(
    fc.string({ maxLength: 300, unit: 'binary' }),
    fc.array(fc.string({ maxLength: 60, unit: fc.constantFrom(...BASE64URL) }), { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.')),
    fc.tuple(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'Token', ''), fc.constantFrom(' ', '  ', '\t', ''), fc.string({ maxLength: 80 })).map(([scheme, gap, rest]) => `${scheme}${gap}${rest}`),
    fc.jsonValue({ maxDepth: 2 }).map((value) => `${b64(JSON.stringify(value))}.${b64(JSON.stringify(value))}.${b64(randomBytes(32))}`),
  );
  await fc.assert(
    fc.asyncProperty(garbage, async (header) => expectRefused(await verdict(header))),
    { numRuns: 500 },
  );
  for (const header of [undefined, '', ' ', 'Bearer', 'Bearer ', `Bearer ${valid} extra`]) expectRefused(await verdict(header));
});

it('refuses every change to a valid token, in any segment', async () => {
  const mutation = fc.oneof(
    // One character replaced by another of the alphabet (or any character).
    fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(...BASE64URL), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }))).map(([at, c]) => (token: string) => {
      const i = at % token.length;
      return token.slice(0, i) + c + token.slice(i + 1);
    }),
    // Characters inserted or deleted anywhere, padding added, segments swapped, dropped, duplicated or replaced.
    fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 4, unit: fc.constantFrom(...BASE64URL, '=', '.', '+', '/') })).map(([at, s]) => (token: string) => {
      const i = at % (token.length + 1);
      return token.slice(0, i) + s + token.slice(i);
    }),
    fc.tuple(fc.nat(), fc.integer({ min: 1, max: 8 })).map(([at, n]) => (token: string) => {
      const i = at % token.length;
      return token.slice(0, i) + token.slice(i + n);
    }),
    fc.constantFrom<(token: string) => string>(
      (token) => `${token}=`,
      (token) => `${token}==`,
      (token) => token.split('.').reverse().join('.'),
      (token) => token.split('.').slice(0, 2).join('.') + '.',
      (token) => `${token}.${token.split('.')[2]}`,
      (token) => token.replace(/-/g, '+').replace(/_/g, '/'),
      (token) => token.toUpperCase(),
    ),
    fc.tuple(fc.integer({ min: 0, max: 2 }), fc.string({ maxLength: 80, unit: fc.constantFrom(...BASE64URL) })).map(([segment, replacement]) => (token: string) => {
      const parts = token.split('.');
      parts[segment] = replacement;
      return parts.join('.');
    }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
      const mutated = mutations.reduce((token, mutate) => mutate(token), valid);
      fc.pre(mutated !== valid);
      expectRefused(await verdict(`Bearer ${mutated}`));
    }),
    { numRuns: 1000 },
  );
  // Each of the signature's last character's spare-bit spellings decodes to the same bytes: none is taken but its own.
  const [head, body, signature] = valid.split('.') as [string, string, string];
  for (const c of BASE64URL) {
    const respelled = `${head}.${body}.${signature.slice(0, -1)}${c}`;
    if (respelled !== valid) expectRefused(await verdict(respelled));
  }
});

/** A token written by hand: any header and payload text, signed as `sign` says. */
function craft(header: string, payload: string, sign: 'secret' | 'other-secret' | 'none' | 'random', alg: string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg] ?? 'sha256';
  const signature =
    sign === 'none' ? '' : sign === 'random' ? b64(randomBytes(64)) : b64(createHmac(hash, sign === 'secret' ? SECRET : `${SECRET}x`).update(input).digest());
  return `${input}.${signature}`;
}

/** What the claims must be for the token to be taken (the signature being good): the spec the oracle checks. */
function claimsValid(payload: unknown): boolean {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return false;
  const claims = payload as Record<string, unknown>;
  const time = now();
  const isNumber = (v: unknown): v is number => typeof v === 'number';
  return (
    claims.apikey === TENANT &&
    isNumber(claims.exp) &&
    claims.exp > time + 30 &&
    isNumber(claims.iat) &&
    claims.iat <= time &&
    claims.exp - claims.iat <= MAX_TOKEN_LIFETIME_SECONDS &&
    (claims.nbf === undefined || (isNumber(claims.nbf) && claims.nbf < time - 30)) &&
    (claims.roomId === undefined || typeof claims.roomId === 'string') &&
    (claims.permissions === undefined || (Array.isArray(claims.permissions) && claims.permissions.every((p) => typeof p === 'string')))
  );
}

/** A claim's value: mostly one the spec takes, else a wrong one or any JSON at all. */
const claimValue = (good: readonly unknown[], bad: readonly unknown[]): fc.Arbitrary<JsonTree> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...good).map((v) => ({ raw: JSON.stringify(v) })) },
    { weight: 2, arbitrary: fc.constantFrom(...bad).map((v) => ({ raw: JSON.stringify(v) })) },
    { weight: 1, arbitrary: jsonTree({ maxDepth: 2 }) },
  );

it('takes re-signed tokens only when the algorithm is HS256, the key the tenant\'s and every claim well typed and current', async () => {
  const t = now();
  const claim = fc.oneof(
    fc.tuple(fc.constant('apikey'), claimValue([TENANT], ['unknown-tenant', '', `${TENANT} `, ...PROTOTYPE_KEYS, 5, null, [TENANT]])),
    fc.tuple(fc.constant('exp'), claimValue([t + 3600, t + MAX_TOKEN_LIFETIME_SECONDS - 30], [t - 3600, t - 60, t + 10 ** 9, 1.5, `${t + 3600}`, -1, 0, null])),
    fc.tuple(fc.constant('iat'), claimValue([t - 10, t], [t + 600, `${t}`, null, [t]])),
    fc.tuple(fc.constant('nbf'), claimValue([t - 3600], [t + 3600, 'soon', null])),
    fc.tuple(fc.constant('permissions'), claimValue([['allow_mod'], ['allow_join', 'allow_mod'], [], ['superuser']], ['allow_mod', ['allow_mod', 1], { 0: 'allow_mod' }, null, true])),
    fc.tuple(fc.constant('roomId'), claimValue(['room-1'], [7, { id: 'room-1' }, null, ['room-1']])),
    fc.tuple(fc.constantFrom(...PROTOTYPE_KEYS, 'version', 'sub'), jsonTree({ maxDepth: 2 })),
  );
  const header = fc.oneof(
    { weight: 6, arbitrary: fc.constant({ alg: 'HS256', text: '{"alg":"HS256","typ":"JWT"}' }) },
    { weight: 2, arbitrary: fc.constantFrom('HS384', 'HS512', 'none', 'None', 'RS256', 'ES256', 'hs256', 'HS256 ', '').map((alg) => ({ alg, text: JSON.stringify({ alg, typ: 'JWT' }) })) },
    { weight: 1, arbitrary: fc.constant({ alg: 'HS256', text: '{"typ":"JWT"}' }) },
    { weight: 1, arbitrary: jsonTree({ keys: ['alg', 'typ', 'kid'], values: ['HS256', 'none', 'JWT'], maxDepth: 2 }).map((tree) => ({ alg: 'HS256', text: jsonText(tree) })) },
  );
  const signing = fc.oneof({ weight: 6, arbitrary: fc.constant('secret' as const) }, { weight: 3, arbitrary: fc.constantFrom('other-secret' as const, 'none' as const, 'random' as const) });
  const seen = { taken: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(header, fc.array(claim, { maxLength: 4 }), signing, async ({ alg, text }, claims, sign) => {
      // Whatever the claims, these three make a complete, current token the oracle can tell apart.
      const payload = jsonText({ entries: [['apikey', { raw: JSON.stringify(TENANT) }], ['exp', { raw: String(t + 3600) }], ['iat', { raw: String(t) }], ...claims] });
      const token = craft(text, payload, sign, alg);
      const result = await verdict(`Bearer ${token}`);
      const headerValue = safeParse(text) as { alg?: unknown } | undefined;
      const algOk = typeof headerValue === 'object' && headerValue !== null && !Array.isArray(headerValue) && headerValue.alg === 'HS256' && !('crit' in headerValue) && !('b64' in headerValue);
      if (algOk && sign === 'secret' && claimsValid(JSON.parse(payload))) {
        expect(result).toHaveProperty('accepted.tenant', TENANT);
        seen.taken++;
      } else {
        expectRefused(result);
        seen.refused++;
      }
    }),
    { numRuns: 800 },
  );
  // Both sides of the oracle were exercised.
  expect(Math.min(seen.taken, seen.refused)).toBeGreaterThan(50);
});

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

it('refuses expired and not-yet-valid tokens, saying which when expired', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 10, max: 10 ** 8 }), async (ago) => {
      const expired = craft('{"alg":"HS256"}', JSON.stringify({ apikey: TENANT, iat: now() - ago - 60, exp: now() - ago }), 'secret', 'HS256');
      expect(await verdict(expired)).toEqual({ status: 401, message: 'Token expired' });
      const early = craft('{"alg":"HS256"}', JSON.stringify({ apikey: TENANT, iat: now(), exp: now() + ago + 3600, nbf: now() + ago }), 'secret', 'HS256');
      expect(await verdict(early)).toEqual({ status: 401, message: 'Invalid token' });
    }),
    { numRuns: 100 },
  );
});

it('refuses huge tokens quickly', async () => {
  const started = performance.now();
  for (const size of [10_000, 100_000, 1_000_000, 8_000_000]) {
    expectRefused(await verdict(`Bearer ${'a'.repeat(size)}`));
    expectRefused(await verdict(`Bearer ${b64('{"alg":"HS256"}')}.${'e'.repeat(size)}.${'s'.repeat(43)}`));
    // Signed well but with an unknown key and a huge payload: still one HMAC, still a 401.
    expectRefused(await verdict(craft('{"alg":"HS256"}', JSON.stringify({ apikey: TENANT, exp: now() + 60, iat: now(), pad: 'x'.repeat(size) }), 'other-secret', 'HS256')));
  }
  expect(performance.now() - started).toBeLessThan(5000);
});

describe('through the API', () => {
  let t: TestStack;
  let secret: string;
  beforeAll(async () => {
    t = await startTestStack({ API_RATE_LIMIT: '1000000', API_BURST_LIMIT: '1000000', TENANT_RATE_LIMIT: '0' });
    secret = await t.secret(TENANT);
  });
  afterAll(() => t.close());

  it('answers 401 with a JSON message and WWW-Authenticate to mutated and forged tokens, never a 500', async () => {
    const good = await mintToken(secret, { apikey: TENANT, ttlSeconds: 600 });
    expect((await t.api('GET', '/v2/connectors', { token: good })).status).toBe(200);
    const [head, body] = good.split('.') as [string, string, string];
    const forged = fc.oneof(
      fc.tuple(fc.nat(), fc.constantFrom(...BASE64URL)).map(([at, c]) => good.slice(0, at % good.length) + c + good.slice((at % good.length) + 1)),
      fc.constantFrom(`${b64('{"alg":"none"}')}.${body}.`, `${b64('{"alg":"HS512"}')}.${body}.${b64(createHmac('sha512', secret).update(`${b64('{"alg":"HS512"}')}.${body}`).digest())}`, `${head}.${b64('{"apikey":"acme","exp":1,"iat":1}')}.x`),
      fc.string({ maxLength: 200, unit: fc.constantFrom(...BASE64URL, '.', '=') }),
      fc.integer({ min: 1000, max: 8000 }).map((n) => `${head}.${'A'.repeat(n)}.${'B'.repeat(43)}`),
    );
    await fc.assert(
      fc.asyncProperty(forged, async (token) => {
        fc.pre(token !== good);
        const res = await fetch(`${t.stack.apiUrl}/v2/connectors`, { headers: { authorization: `Bearer ${token}` } });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        expect(await res.json()).toEqual({ message: expect.stringMatching(/^(Invalid token|Token expired)$/), code: 'unauthorized' });
      }),
      { numRuns: 150 },
    );
    expect(t.logLines.filter((line) => line.includes('"level":"error"'))).toEqual([]);
  });
});
