import type { components } from '../../client/src/schema';
import { startTestStack, type TestStack } from '../support/stack';

/** A connector as the API's schema has it (the typed client's, generated from docs/openapi.json). */
type ConnectorBody = components['schemas']['Connector'];

let t: TestStack;
let acme: string;
let globex: string;

beforeAll(async () => {
  t = await startTestStack();
  acme = await t.token('acme');
  globex = await t.token('globex');
});
afterAll(() => t.close());

async function body<T = unknown>(res: Response): Promise<T> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as T;
}

async function create(token: string, fields: Record<string, unknown> = {}): Promise<ConnectorBody> {
  const res = await t.api('POST', '/v2/connectors', { token, body: { provider: 'plivo', ...fields } });
  expect(res.status).toBe(201);
  return (await body<{ data: ConnectorBody }>(res)).data;
}

describe('POST /v2/connectors', () => {
  it('creates a connector in the seed shape', async () => {
    const res = await t.api('POST', '/v2/connectors', {
      token: acme,
      body: { provider: 'plivo', name: 'Main Plivo Connector', defaultRoomId: 'abcd-efgh-ijkl', region: 'us002' },
    });
    expect(res.status).toBe(201);
    const json = await body<{ message: string; data: ConnectorBody }>(res);
    expect(json.message).toBe('Connector created successfully');
    expect(json.data).toEqual({
      id: expect.stringMatching(/^cn_[0-9a-hjkmnp-tv-z]{16}$/),
      provider: 'plivo',
      name: 'Main Plivo Connector',
      webhookUrl: expect.stringMatching(new RegExp(`^${t.stack.apiUrl}/v2/hooks/plivo/whk_[0-9A-Za-z]{40}$`)),
      defaultRoomId: 'abcd-efgh-ijkl',
      defaultRuleId: null,
      region: 'us002',
      plivoAuthIdSet: false,
      plivoAuthTokenSet: false,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedAt: json.data.createdAt,
    });
  });

  it('shows absent optional fields as null', async () => {
    const c = await create(acme);
    expect(c).toMatchObject({ name: null, defaultRoomId: null, defaultRuleId: null, region: null });
  });

  it.each([
    ['plivoAuthToken', 'MAXXXXXXXXXXXXXXXXXXYzQ1ZGE2ZjEyMDk0NDdi', { plivoAuthIdSet: false, plivoAuthTokenSet: true }],
    ['plivoAuthId', 'MAQ1ZGE2ZJEYMDK0NDDI', { plivoAuthIdSet: true, plivoAuthTokenSet: false }],
  ])('stores %s without ever returning it, to its tenant or another, nor logging it', async (field, value, shown) => {
    const res = await t.api('POST', '/v2/connectors', { token: acme, body: { provider: 'plivo', [field]: value } });
    const text = await res.text();
    expect(res.status).toBe(201);
    expect(text).not.toContain(value);
    const c = (JSON.parse(text) as { data: ConnectorBody }).data;
    expect(c).toMatchObject(shown);
    for (const [token, path] of [
      [acme, `/v2/connectors/${c.id}`],
      [acme, '/v2/connectors?limit=100'],
      [globex, '/v2/connectors?limit=100'],
    ] as const) {
      expect(await (await t.api('GET', path, { token })).text()).not.toContain(value);
    }
    expect((await t.api('GET', `/v2/connectors/${c.id}`, { token: globex })).status).toBe(404);
    expect((await t.api('PATCH', `/v2/connectors/${c.id}`, { token: globex, body: { [field]: null } })).status).toBe(404);
    const still = await body<{ data: ConnectorBody }>(await t.api('GET', `/v2/connectors/${c.id}`, { token: acme }));
    expect(still.data).toMatchObject(shown);
    expect(t.logLines.join('\n')).not.toContain(value);
  });

  it('gives every connector a distinct id and webhook key', async () => {
    const made = await Promise.all(Array.from({ length: 10 }, () => create(acme)));
    expect(new Set(made.map((c) => c.id)).size).toBe(10);
    expect(new Set(made.map((c) => c.webhookUrl)).size).toBe(10);
  });

  it.each([
    [{ provider: 'twilio' }, 'provider', /supported providers: plivo/],
    [{}, 'provider', /supported providers: plivo/],
    [{ provider: 'plivo', region: 'eu999' }, 'region', /configured media regions: us002, in002/],
    [{ provider: 'plivo', surprise: 1 }, 'surprise', /Unknown field/],
    [{ provider: 'plivo', name: 42 }, 'name', /string/],
    [{ provider: 'plivo', name: '' }, 'name', /empty/],
    [{ provider: 'plivo', name: 'x'.repeat(129) }, 'name', /128/],
    [{ provider: 'plivo', defaultRoomId: 'has space' }, 'defaultRoomId', /A-Z/],
    [{ provider: 'plivo', defaultRuleId: 'abc' }, 'defaultRuleId', /rr_/],
    [{ provider: 'plivo', plivoAuthToken: 'short' }, 'plivoAuthToken', /16-128/],
    [{ provider: 'plivo', plivoAuthId: 'MA123' }, 'plivoAuthId', /MA or SA followed by 18/],
    [{ provider: 'plivo', plivoAuthId: 'maxxxxxxxxxxxxxxxxxx' }, 'plivoAuthId', /MA or SA followed by 18/],
    [{ provider: 'plivo', plivoAuthId: 'XA0123456789ABCDEFGH' }, 'plivoAuthId', /MA or SA followed by 18/],
    [{ provider: 'plivo', plivoAuthId: 7 }, 'plivoAuthId', /string/],
    [{ provider: 'plivo', plivoAuthToken: ['x'] }, 'plivoAuthToken', /string/],
  ])('refuses %j with 400 naming %s', async (input, field, message) => {
    const res = await t.api('POST', '/v2/connectors', { token: acme, body: input });
    expect(res.status).toBe(400);
    const json = await body<{ message: string; errors: { field: string; message: string }[] }>(res);
    expect(json.message).toMatch(message);
    expect(json.errors).toContainEqual({ field, message: expect.stringMatching(message) });
  });

  it.each([
    ['not an object', '[1,2]'],
    ['a string', '"plivo"'],
    ['null', 'null'],
  ])('refuses a JSON body that is %s', async (_what, raw) => {
    const res = await t.api('POST', '/v2/connectors', { token: acme, body: raw });
    expect(res.status).toBe(400);
    expect((await body<{ message: string }>(res)).message).toMatch(/^Invalid request body/);
  });

  it('refuses malformed JSON with 400', async () => {
    const res = await t.api('POST', '/v2/connectors', { token: acme, body: '{"provider": "plivo",' });
    expect(res.status).toBe(400);
    expect((await body<{ message: string }>(res)).message).toMatch(/^Malformed JSON/);
  });

  it('refuses a body that is not UTF-8 JSON with 400', async () => {
    const res = await fetch(`${t.stack.apiUrl}/v2/connectors`, {
      method: 'POST',
      headers: { authorization: `Bearer ${acme}`, 'content-type': 'application/json' },
      body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    });
    expect(res.status).toBe(400);
    expect((await body<{ message: string }>(res)).message).toMatch(/^Malformed JSON/);
  });

  it('refuses an empty body with 400', async () => {
    const res = await t.api('POST', '/v2/connectors', { token: acme, body: '' });
    expect(res.status).toBe(400);
  });

  it.each([['text/plain'], ['application/x-www-form-urlencoded'], ['']])('refuses content type "%s" with 415', async (type) => {
    const res = await t.api('POST', '/v2/connectors', { token: acme, body: '{"provider":"plivo"}', headers: { 'content-type': type } });
    expect(res.status).toBe(415);
    expect((await body<{ message: string }>(res)).message).toBe('Content-Type must be application/json');
  });

  it('accepts a charset in the content type', async () => {
    const res = await t.api('POST', '/v2/connectors', {
      token: acme,
      body: '{"provider":"plivo"}',
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(res.status).toBe(201);
  });

  it('refuses a body over 64 KB with 413 and accepts one just under', async () => {
    const big = await t.api('POST', '/v2/connectors', { token: acme, body: { provider: 'plivo', name: 'x'.repeat(64 * 1024) } });
    expect(big.status).toBe(413);
    expect((await body<{ message: string }>(big)).message).toBe('Request body exceeds 65536 bytes');
    const padded = JSON.stringify({ provider: 'plivo' }) + ' '.repeat(64 * 1024 - 20);
    const fits = await t.api('POST', '/v2/connectors', { token: acme, body: padded });
    expect(fits.status).toBe(201);
  });

  it('refuses a body over API Gateway\'s 10 MB with 413 without reading it all', async () => {
    const res = await t.api('POST', '/v2/connectors', { token: acme, body: 'x'.repeat(11 * 1024 * 1024) }).catch((err: unknown) => err);
    // The gateway answers 413 and closes; a client may see either the answer or the reset.
    if (res instanceof Response) expect(res.status).toBe(413);
    const after = await t.api('GET', '/v2/connectors?limit=1', { token: acme });
    expect(after.status).toBe(200);
  });
});

describe('GET /v2/connectors/{id}', () => {
  it('returns the connector', async () => {
    const c = await create(acme, { name: 'fetch me' });
    const res = await t.api('GET', `/v2/connectors/${c.id}`, { token: acme });
    expect(res.status).toBe(200);
    expect(await body(res)).toEqual({ data: c });
  });

  it.each([['cn_0000000000000000'], ['nope'], ['cn_%ZZ'], ['..%2F..%2Fetc']])('answers 404 for unknown id %s', async (id) => {
    const res = await t.api('GET', `/v2/connectors/${id}`, { token: acme });
    expect(res.status).toBe(404);
    expect((await body<{ message: string }>(res)).message).toMatch(/not found/i);
  });
});

describe('tenant isolation', () => {
  it('hides one tenant\'s connectors from another on every endpoint', async () => {
    const c = await create(acme, { name: 'acme only' });
    for (const [method, path, payload] of [
      ['GET', `/v2/connectors/${c.id}`, undefined],
      ['PATCH', `/v2/connectors/${c.id}`, { name: 'stolen' }],
      ['POST', `/v2/connectors/${c.id}/rotate-key`, undefined],
      ['DELETE', `/v2/connectors/${c.id}`, undefined],
    ] as const) {
      const res = await t.api(method, path, { token: globex, ...(payload && { body: payload }) });
      expect(res.status).toBe(404);
      expect(await body(res)).toEqual({ message: `Connector ${c.id} not found`, code: 'not_found' });
    }
    const list = await body<{ data: ConnectorBody[] }>(await t.api('GET', '/v2/connectors?limit=100', { token: globex }));
    expect(list.data.map((x) => x.id)).not.toContain(c.id);
    // And it is untouched for its owner.
    const own = await body<{ data: ConnectorBody }>(await t.api('GET', `/v2/connectors/${c.id}`, { token: acme }));
    expect(own.data).toEqual(c);
  });
});

describe('GET /v2/connectors (pagination)', () => {
  it('pages through every connector once, newest first, in a stable order', async () => {
    const tenant = await t.token('pager');
    const made: string[] = [];
    for (let i = 0; i < 7; i++) made.push((await create(tenant, { name: `c${i}` })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: Response = await t.api('GET', `/v2/connectors?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token: tenant });
      expect(res.status).toBe(200);
      const json = await body<{ data: ConnectorBody[]; pageInfo: { limit: number; nextCursor: string | null } }>(res);
      expect(json.pageInfo.limit).toBe(3);
      expect(json.data.length).toBeLessThanOrEqual(3);
      seen.push(...json.data.map((c) => c.id));
      cursor = json.pageInfo.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...made].reverse());
    // Stable: asking again gives the same order.
    const again = await body<{ data: ConnectorBody[] }>(await t.api('GET', '/v2/connectors?limit=100', { token: tenant }));
    expect(again.data.map((c) => c.id)).toEqual(seen);
  });

  it('returns an empty list and no cursor for a tenant without connectors', async () => {
    const res = await t.api('GET', '/v2/connectors', { token: await t.token('empty-tenant') });
    expect(await body(res)).toEqual({ data: [], pageInfo: { limit: 20, nextCursor: null } });
  });

  it.each([['limit=0'], ['limit=101'], ['limit=abc'], ['limit=2.5'], ['cursor=%%%'], ['cursor=bm9wZQ'], ['sort=asc']])(
    'refuses query %s with 400',
    async (q) => {
      const res = await t.api('GET', `/v2/connectors?${q}`, { token: acme });
      expect(res.status).toBe(400);
      expect((await body<{ message: string }>(res)).message).toMatch(/Invalid (query|cursor)/);
    },
  );

  it('does not let a cursor cross tenants', async () => {
    const res = await t.api('GET', '/v2/connectors?limit=1', { token: acme });
    const { pageInfo } = await body<{ pageInfo: { nextCursor: string } }>(res);
    expect(pageInfo.nextCursor).toEqual(expect.any(String));
    const other = await body<{ data: ConnectorBody[] }>(
      await t.api('GET', `/v2/connectors?cursor=${pageInfo.nextCursor}`, { token: await t.token('cursor-thief') }),
    );
    expect(other.data).toEqual([]);
  });
});

describe('PATCH /v2/connectors/{id}', () => {
  it('changes the given fields, clears null ones, keeps the rest', async () => {
    const c = await create(acme, { name: 'before', defaultRoomId: 'room-a', region: 'us002' });
    const rule = await t.api('POST', '/v2/sip/routing-rule', { token: acme, body: { name: 'r', type: 'inbound', room: { type: 'static', id: 'x' } } });
    const ruleId = ((await rule.json()) as { id: string }).id;
    await new Promise((r) => setTimeout(r, 5));
    const res = await t.api('PATCH', `/v2/connectors/${c.id}`, {
      token: acme,
      body: { name: 'after', region: null, defaultRuleId: ruleId },
    });
    expect(res.status).toBe(200);
    const json = await body<{ message: string; data: ConnectorBody }>(res);
    expect(json.message).toBe('Connector updated successfully');
    expect(json.data).toEqual({
      ...c,
      name: 'after',
      region: null,
      defaultRuleId: ruleId,
      updatedAt: expect.any(String),
    });
    expect(json.data.updatedAt > c.updatedAt).toBe(true);
    const fetched = await body<{ data: ConnectorBody }>(await t.api('GET', `/v2/connectors/${c.id}`, { token: acme }));
    expect(fetched.data).toEqual(json.data);
  });

  it('sets and clears the Plivo auth token', async () => {
    const c = await create(acme);
    const set = await body<{ data: ConnectorBody }>(
      await t.api('PATCH', `/v2/connectors/${c.id}`, { token: acme, body: { plivoAuthToken: 'A'.repeat(40) } }),
    );
    expect(set.data.plivoAuthTokenSet).toBe(true);
    const cleared = await body<{ data: ConnectorBody }>(
      await t.api('PATCH', `/v2/connectors/${c.id}`, { token: acme, body: { plivoAuthToken: null } }),
    );
    expect(cleared.data.plivoAuthTokenSet).toBe(false);
  });

  it('sets and clears the Plivo auth id, apart from the token', async () => {
    const c = await create(acme);
    const patch = async (input: object) =>
      body<{ data: ConnectorBody }>(await t.api('PATCH', `/v2/connectors/${c.id}`, { token: acme, body: input }));
    expect((await patch({ plivoAuthId: 'SA0123456789ABCDEFGH', plivoAuthToken: 'B'.repeat(40) })).data).toMatchObject({ plivoAuthIdSet: true, plivoAuthTokenSet: true });
    expect((await patch({ plivoAuthId: null })).data).toMatchObject({ plivoAuthIdSet: false, plivoAuthTokenSet: true });
    const res = await t.api('PATCH', `/v2/connectors/${c.id}`, { token: acme, body: { plivoAuthId: 'SA0123' } });
    expect(res.status).toBe(400);
    expect(await body<{ message: string; code: string }>(res)).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/plivoAuthId: must be a Plivo auth id/) });
  });

  it.each([
    [{}, /at least one/],
    [{ provider: 'plivo' }, /Unknown field/],
    [{ webhookUrl: 'https://evil' }, /Unknown field/],
    [{ region: 'mars1' }, /configured media regions/],
    [{ name: null, id: 'cn_x' }, /Unknown field/],
  ])('refuses %j with 400', async (input, message) => {
    const c = await create(acme);
    const res = await t.api('PATCH', `/v2/connectors/${c.id}`, { token: acme, body: input });
    expect(res.status).toBe(400);
    expect((await body<{ message: string }>(res)).message).toMatch(message);
  });

  it('refuses a defaultRuleId that names no rule of this tenant', async () => {
    const c = await create(acme);
    const res = await t.api('PATCH', `/v2/connectors/${c.id}`, { token: acme, body: { defaultRuleId: 'rr_0123456789abcdef' } });
    expect(res.status).toBe(400);
    expect(await body(res)).toEqual({
      message: 'Invalid request body: defaultRuleId: no routing rule rr_0123456789abcdef exists',
      code: 'bad_request',
      errors: [{ field: 'defaultRuleId', message: 'no routing rule rr_0123456789abcdef exists' }],
    });
    const created = await t.api('POST', '/v2/connectors', { token: acme, body: { provider: 'plivo', defaultRuleId: 'rr_0123456789abcdef' } });
    expect(created.status).toBe(400);
  });

  it('answers 404 for an unknown connector', async () => {
    const res = await t.api('PATCH', '/v2/connectors/cn_0000000000000000', { token: acme, body: { name: 'x' } });
    expect(res.status).toBe(404);
  });
});

describe('DELETE /v2/connectors/{id}', () => {
  it('deletes once, then answers 404', async () => {
    const c = await create(acme);
    const res = await t.api('DELETE', `/v2/connectors/${c.id}`, { token: acme });
    expect(res.status).toBe(200);
    expect(await body(res)).toEqual({ message: 'Connector deleted successfully', data: c });
    expect((await t.api('GET', `/v2/connectors/${c.id}`, { token: acme })).status).toBe(404);
    expect((await t.api('DELETE', `/v2/connectors/${c.id}`, { token: acme })).status).toBe(404);
  });
});

describe('POST /v2/connectors/{id}/rotate-key', () => {
  it('returns a new webhook URL and keeps everything else', async () => {
    const c = await create(acme, { name: 'rotating', defaultRoomId: 'r1' });
    const res = await t.api('POST', `/v2/connectors/${c.id}/rotate-key`, { token: acme });
    expect(res.status).toBe(200);
    const json = await body<{ message: string; data: ConnectorBody }>(res);
    expect(json.message).toBe('Webhook key rotated successfully');
    expect(json.data.webhookUrl).not.toBe(c.webhookUrl);
    expect(json.data).toEqual({ ...c, webhookUrl: json.data.webhookUrl, updatedAt: json.data.updatedAt });
  });

  it('answers 404 for an unknown connector', async () => {
    expect((await t.api('POST', '/v2/connectors/cn_0000000000000000/rotate-key', { token: acme })).status).toBe(404);
  });
});

describe('error codes', () => {
  it.each([
    ['an invalid field', 'POST', '/v2/connectors', { body: { provider: 'plivo', defaultRoomId: 'has space' } }, 400, 'bad_request'],
    ['malformed JSON', 'POST', '/v2/connectors', { body: '{"provider":' }, 400, 'bad_request'],
    ['no token', 'GET', '/v2/connectors', { token: '' }, 401, 'unauthorized'],
    ['an unknown connector', 'GET', '/v2/connectors/cn_0000000000000000', {}, 404, 'not_found'],
    ['an unknown path under a route', 'GET', '/v2/connectors/cn_0000000000000000/extra/deep', {}, 404, 'not_found'],
    ['a wrong method', 'PUT', '/v2/connectors', { body: {} }, 405, 'method_not_allowed'],
    ['a body over 64 KB', 'POST', '/v2/connectors', { body: { provider: 'plivo', name: 'x'.repeat(64 * 1024) } }, 413, 'payload_too_large'],
    ['a body that is not JSON', 'POST', '/v2/connectors', { body: '{}', headers: { 'content-type': 'text/plain' } }, 415, 'unsupported_media_type'],
  ] as const)('answers %s with its stable code beside the message', async (_what, method, path, options, status, code) => {
    const res = await t.api(method, path, { token: acme, ...options });
    expect(res.status).toBe(status);
    expect(await body(res)).toMatchObject({ message: expect.stringMatching(/\S/), code });
  });

  it('answers a join-only token with 403 forbidden', async () => {
    const res = await t.api('GET', '/v2/connectors', { token: await t.token('acme', { permissions: ['allow_join'] }) });
    expect(res.status).toBe(403);
    expect(await body(res)).toMatchObject({ code: 'forbidden' });
  });
});

describe('routing', () => {
  it('answers 405 with Allow for a known path and wrong method', async () => {
    const res = await t.api('PUT', '/v2/connectors', { token: acme, body: {} });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST, GET');
  });

  // `/` is npm start's landing page (local/landing.ts), not an API path.
  it('answers 404 for unknown paths, like API Gateway', async () => {
    for (const path of ['/v2/nothing', '/v2/connectors/cn_0000000000000000/extra/deep', '/v3']) {
      const res = await t.api('GET', path, { token: acme });
      expect(res.status).toBe(404);
      // Paths under no route are API Gateway's own 404, which carries no code.
      expect(await body<{ message: string }>(res)).toEqual({ message: expect.stringMatching(/not found/i), ...(path.startsWith('/v2/connectors') && { code: 'not_found' }) });
    }
  });
});
