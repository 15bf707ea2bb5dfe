import { startTestStack, type TestStack } from '../support/stack';

/**
 * The per-tenant API rate limit (`TENANT_RATE_LIMIT`), through the local stack on dynalite: counted in the table,
 * so it holds across Lambda instances, one tenant's burst leaves the others served.
 */
const LIMIT = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('per-tenant rate limit', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({ TENANT_RATE_LIMIT: String(LIMIT) });
  }, 30_000);
  afterAll(async () => t?.close());

  it('answers a tenant over its limit 429 with Retry-After and a message naming the limit, while another tenant is served; served again after the window', async () => {
    const [a, b] = await Promise.all([t.token('rl-tenant-a'), t.token('rl-tenant-b')]);
    // Three times the limit at once: even straddling two one-second windows, at most twice the limit get through.
    const burst = await Promise.all(Array.from({ length: LIMIT * 3 }, () => t.api('GET', '/v2/connectors', { token: a })));
    const refused = burst.filter((res) => res.status === 429);
    expect(burst.filter((res) => res.status === 200).length).toBeLessThanOrEqual(LIMIT * 2);
    expect(refused.length).toBeGreaterThanOrEqual(LIMIT);
    for (const res of refused) {
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({ message: `Rate limit exceeded: at most ${LIMIT} API requests per second per tenant; retry after 1 s`, code: 'rate_limited' });
    }
    // Tenant B has its own count.
    expect((await t.api('GET', '/v2/connectors', { token: b })).status).toBe(200);

    await sleep(1000 * Number(refused[0]?.headers.get('retry-after')) + 50);
    expect((await t.api('GET', '/v2/connectors', { token: a })).status).toBe(200);
  }, 30_000);

  it('counts only authenticated, permitted requests: bad tokens, join-only tokens and unknown paths do not use up a tenant’s limit', async () => {
    const token = await t.token('rl-tenant-c');
    const joinOnly = await t.token('rl-tenant-c', { permissions: ['allow_join'] });
    await sleep(1000 - (Date.now() % 1000) + 20); // the start of a window
    const noise = await Promise.all([
      ...Array.from({ length: LIMIT * 2 }, () => t.api('GET', '/v2/connectors', { token: 'not-a-jwt' })),
      ...Array.from({ length: LIMIT * 2 }, () => t.api('GET', '/v2/connectors/no/such/path', { token })),
      // Join-only tokens are handed to browsers: they are refused without using up the tenant's API rate.
      ...Array.from({ length: LIMIT * 2 }, () => t.api('GET', '/v2/connectors', { token: joinOnly })),
    ]);
    expect(noise.map((res) => res.status).sort()).toEqual([...Array(LIMIT * 2).fill(401), ...Array(LIMIT * 2).fill(403), ...Array(LIMIT * 2).fill(404)]);
    const served = await Promise.all(Array.from({ length: LIMIT }, () => t.api('GET', '/v2/sip/call', { token })));
    expect(served.map((res) => res.status)).toEqual(Array(LIMIT).fill(200));
  }, 30_000);
});

describe('with TENANT_RATE_LIMIT=0', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack({ TENANT_RATE_LIMIT: '0' });
  }, 30_000);
  afterAll(async () => t?.close());

  it('has no per-tenant limit (the stage throttle still applies)', async () => {
    const token = await t.token('rl-unlimited');
    const burst = await Promise.all(Array.from({ length: 60 }, () => t.api('GET', '/v2/connectors', { token })));
    expect(burst.every((res) => res.status === 200)).toBe(true);
  }, 30_000);
});
