import fc from 'fast-check';
import { request } from 'node:http';
import { ERROR_CODES } from '../../core/errors';
import { startTestStack, type TestStack } from '../support/stack';
import { expectPrototypeClean, heapAfterGc, jsonObjectText, jsonText, jsonTree, PROTOTYPE_KEYS, type TreeOptions } from './support';

/**
 * The management API's parsers under arbitrary input, through the local API Gateway stand-in and the
 * real handler: JSON bodies of every write route, content types, path parameters and list queries.
 * Whatever arrives, the answer is a 2xx or a 4xx with a JSON `{message}`: never a 5xx, never internals.
 */
let t: TestStack;
let token: string;
const fixture = { connector: '', rule: '', agent: '', webhook: '' };

beforeAll(async () => {
  // No throttles: the gateway's stage limit and the per-tenant limit would answer 429 before any parser ran.
  t = await startTestStack({ API_RATE_LIMIT: '1000000', API_BURST_LIMIT: '1000000', TENANT_RATE_LIMIT: '0' });
  token = await t.token('fuzz-api');
  const created = async (path: string, body: unknown) => ((await (await t.api('POST', path, { token, body })).json()) as { data: { id: string } }).data.id;
  fixture.connector = await created('/v2/connectors', { provider: 'plivo', defaultRoomId: 'fuzz-room' });
  // SIP resources and agents answer the object itself.
  const own = async (path: string, body: unknown) => ((await (await t.api('POST', path, { token, body })).json()) as { id: string }).id;
  fixture.agent = await own('/v2/agents', { name: 'fuzz', url: 'ws://localhost:9/agent' });
  fixture.rule = await own('/v2/sip/routing-rule', { name: 'fuzz', type: 'inbound', allowedNumbers: ['+1*'], room: { type: 'static', id: 'fuzz-room' } });
  fixture.webhook = ((await (await t.api('POST', '/v2/sip/webhooks', { token, body: { url: 'http://localhost:9/hooks' } })).json()) as { id: string }).id;
});
afterAll(() => t.close());

afterEach(() => {
  // A 5xx is logged by the handler ('unhandled error') or the gateway ('handler threw') before it is answered.
  expect(t.logLines.filter((line) => line.includes('"level":"error"'))).toEqual([]);
  t.logLines.length = 0;
});

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

async function send(method: string, path: string, options: { body?: string | Uint8Array; contentType?: string | null; authorization?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = { authorization: options.authorization ?? `Bearer ${token}` };
  if (options.contentType !== null) headers['content-type'] = options.contentType ?? 'application/json';
  const res = await fetch(t.stack.apiUrl + path, { method, headers, ...(options.body !== undefined && { body: options.body }) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A 4xx with a JSON `{message, code, errors?}` that names the problem and reveals nothing of the server. */
function expectClearRefusal(reply: Reply): { message: string; code?: string; errors?: { field: string; message: string }[] } {
  expect(reply.status).toBeGreaterThanOrEqual(400);
  expect(reply.status).toBeLessThan(500);
  expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(reply.text) as { message: string; code?: string; errors?: { field: string; message: string }[] };
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  // API Gateway's own refusals (a malformed path, one under no route) carry its message alone.
  if (body.code === undefined) expect(['Bad Request', 'Not Found']).toContain(body.message);
  else expect(Object.keys(ERROR_CODES)).toContain(body.code);
  expect(Object.keys(body).every((key) => key === 'message' || key === 'code' || key === 'errors')).toBe(true);
  for (const error of body.errors ?? []) expect(error).toEqual({ field: expect.any(String), message: expect.any(String) });
  expect(reply.text).not.toMatch(/\bat \S+ \(|\.ts:\d+|node_modules|Internal server error/);
  return body;
}

/** 2xx with `{data}` (or, for VideoSDK's resources answered as themselves, the object with its `id`), or a clear refusal. */
function expectAnswered(reply: Reply): void {
  if (reply.status >= 200 && reply.status < 300) {
    const body = JSON.parse(reply.text) as Record<string, unknown>;
    expect('data' in body || typeof body.id === 'string').toBe(true);
    return;
  }
  expectClearRefusal(reply);
}

const SCHEMA: TreeOptions = {
  keys: ['provider', 'name', 'defaultRoomId', 'defaultRuleId', 'region', 'plivoAuthToken', 'phoneNumbers', 'allowedNumbers', 'room', 'type', 'id', 'prefix', 'pin', 'agentId', 'agentMetadata', 'noiseCancellationLevel', 'headersToAttributes', 'headers', 'tags', 'url', 'sampleRate', 'metadata', 'events', 'ttlSeconds'],
  values: ['plivo', 'twilio', 'us002', 'in002', 'inbound', 'outbound', 'static', 'dynamic', 'blank', 'random', 'fuzz-room', 'rr_0000000000000000', '+14155550100', '+91*', '*', 'ws://agent.example', 'wss://agent.example/x', 'http://localhost:9/hooks', 'https://hooks.example/x', 'javascript:alert(1)', 'call-started', 'call-hangup', 'A'.repeat(40), ''],
};

/** Routes that parse a JSON body (a fixture's id where the path names one), and the bodiless POST routes. */
const bodyRoutes = () =>
  [
    ['POST', '/v2/connectors'],
    ['PATCH', `/v2/connectors/${fixture.connector}`],
    ['POST', '/v2/sip/routing-rule'],
    ['PATCH', `/v2/sip/routing-rule/${fixture.rule}`],
    ['POST', '/v2/agents'],
    ['PATCH', `/v2/agents/${fixture.agent}`],
    ['POST', '/v2/agent/dispatch'],
    ['POST', '/v2/sip/webhooks'],
    ['PATCH', `/v2/sip/webhooks/${fixture.webhook}`],
    ['POST', '/v2/rooms/fuzz-room/tokens'],
  ] as const;
const bodyRoute = fc.integer({ min: 0, max: 9 }).map((i) => bodyRoutes()[i] as readonly [string, string]);
const anyWriteRoute = fc.oneof(
  bodyRoute,
  fc.constantFrom<readonly [string, string]>(
    ['POST', '/v2/sip/webhooks/wh_00000000000000000000/deliveries/whd_00000000000000000000/retry'],
    ['PUT', '/v2/connectors'],
    ['PUT', '/v2/sip/routing-rule/rr_0000000000000000'],
    ['PUT', '/v2/agents/ag_0000000000000000'],
    ['POST', '/v2/sip/call'],
    ['PATCH', '/v2/rooms/fuzz-room/tokens'],
  ),
);

describe('JSON bodies', () => {
  it('answers any JSON document on every write route with data or a clear 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(anyWriteRoute, jsonObjectText(SCHEMA), async ([method, path], body) => {
        expectAnswered(await send(method, path, { body }));
      }),
      { numRuns: 400 },
    );
    expectPrototypeClean();
  });

  it('refuses text that is not JSON with 400 naming it malformed', async () => {
    const notJson = fc.oneof(fc.string({ minLength: 1, maxLength: 200, unit: 'binary' }), jsonTree(SCHEMA).map((tree) => jsonText(tree).slice(0, -1) + '\u0000'));
    await fc.assert(
      fc.asyncProperty(bodyRoute, notJson, async ([method, path], body) => {
        fc.pre(!parses(body));
        const reply = await send(method, path, { body });
        if (Buffer.byteLength(body) > 65_536) return void expect(reply.status).toBe(413);
        expect(reply.status).toBe(400);
        expect(expectClearRefusal(reply).message).toMatch(/^Malformed JSON: /);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses any media type but application/json with 415, whatever the bytes', async () => {
    const contentType = fc.oneof(
      fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/jsonp', 'application/json-patch+json', 'application/merge-patch+json', 'multipart/form-data; boundary=x', 'text/json', 'application/octet-stream', 'json', ';application/json'),
      fc.constantFrom('APPLICATION/JSON; charset=utf-8', ' application/json ', 'application/json;', 'Application/Json;charset=latin1'),
      fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, '')),
    );
    await fc.assert(
      fc.asyncProperty(bodyRoute, contentType, fc.uint8Array({ minLength: 1, maxLength: 300 }), async ([method, path], type, bytes) => {
        const reply = await send(method, path, { body: bytes, contentType: type });
        if (type.split(';')[0]?.trim().toLowerCase() === 'application/json') return expectAnswered(reply);
        expect(reply.status).toBe(415);
        expect(expectClearRefusal(reply).message).toBe('Content-Type must be application/json');
      }),
      { numRuns: 200 },
    );
    // No Content-Type at all: the same 415.
    for (const [method, path] of bodyRoutes()) expect((await send(method, path, { body: Buffer.from('{}'), contentType: null })).status).toBe(415);
  });

  it('refuses values nested thousands deep in any field, including agent metadata, with a clear 4xx', async () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const rule = (metadata: string) => `{"name":"deep","type":"inbound","room":{"type":"dynamic"},"agentMetadata":${metadata}}`;
    const agent = (metadata: string) => `{"name":"deep","url":"wss://agent.example","metadata":${metadata}}`;
    for (const depth of [1_000, 5_000, 20_000, 32_000]) {
      for (const [method, path] of bodyRoutes()) expectClearRefusal(await send(method, path, { body: `{"name":${nested(depth)}}` }));
      expectClearRefusal(await send('POST', '/v2/sip/routing-rule', { body: rule(`{"a":${nested(depth)}}`) }));
      expectClearRefusal(await send('PATCH', `/v2/sip/routing-rule/${fixture.rule}`, { body: `{"agentMetadata":{"a":${nested(depth)}}}` }));
      expectClearRefusal(await send('POST', '/v2/agents', { body: agent(`{"a":${nested(depth)}}`) }));
      expectClearRefusal(await send('PATCH', `/v2/agents/${fixture.agent}`, { body: `{"metadata":{"a":${nested(depth)}}}` }));
    }
    // Metadata 32 levels deep (the object itself the first) and within the size limit is still taken.
    expect((await send('POST', '/v2/sip/routing-rule', { body: rule(`{"a":${nested(31)}}`) })).status).toBe(201);
    expect(expectClearRefusal(await send('POST', '/v2/sip/routing-rule', { body: rule(`{"a":${nested(32)}}`) })).message).toContain('agentMetadata: must nest at most 32 levels deep');
    expect(expectClearRefusal(await send('PATCH', `/v2/agents/${fixture.agent}`, { body: `{"metadata":{"a":${nested(32)}}}` })).message).toContain('metadata: must nest at most 32 levels deep');
  });

  it('refuses bodies over 64 KB with 413 and huge strings in any field with a clear 4xx', async () => {
    for (const [method, path] of bodyRoutes()) {
      const reply = await send(method, path, { body: JSON.stringify({ name: 'x'.repeat(70_000) }) });
      expect(reply.status).toBe(413);
      expect(expectClearRefusal(reply).message).toBe('Request body exceeds 65536 bytes');
    }
    await fc.assert(
      fc.asyncProperty(bodyRoute, fc.constantFrom(...(SCHEMA.keys as string[])), fc.constantFrom('x', 'é', '😀', '\u0000'), fc.integer({ min: 129, max: 15_000 }), async ([method, path], key, c, n) => {
        expectClearRefusal(await send(method, path, { body: JSON.stringify({ [key]: c.repeat(n) }) }));
      }),
      { numRuns: 60 },
    );
  });

  it('never lets prototype keys reach Object.prototype', async () => {
    const proto = fc.constantFrom(...PROTOTYPE_KEYS);
    await fc.assert(
      fc.asyncProperty(bodyRoute, proto, proto, async ([method, path], outer, inner) => {
        const body = `{${JSON.stringify(outer)}:{${JSON.stringify(inner)}:{"polluted":"yes"}},"provider":"plivo","name":"x"}`;
        expectClearRefusal(await send(method, path, { body }));
        const rule = `{"name":"p","type":"inbound","room":{"type":"dynamic"},"agentMetadata":{${JSON.stringify(outer)}:{"polluted":"yes"},"kept":1}}`;
        const created = await send('POST', '/v2/sip/routing-rule', { body: rule });
        if (created.status === 201) expect(JSON.parse(created.text)).toHaveProperty('id');
        else expectClearRefusal(created);
      }),
      { numRuns: 40 },
    );
    expectPrototypeClean();
    const reply = await send('POST', '/v2/agents', { body: '{"name":"p","url":"wss://agent.example","metadata":{"__proto__":{"polluted":"yes"},"kept":1}}' });
    expect(reply.status).toBe(201);
    const stored = (await (await t.api('GET', `/v2/agents/${(JSON.parse(reply.text) as { id: string }).id}`, { token })).json()) as { metadata: object };
    // Kept as a key, or dropped (zod's records skip `__proto__`); never the stored object's prototype.
    expect(['{"kept":1}', '{"__proto__":{"polluted":"yes"},"kept":1}']).toContain(JSON.stringify(stored.metadata));
  });
});

/** Raw request targets (fetch would normalise them), so path parsing sees exactly what was generated. */
function rawRequest(method: string, path: string): Promise<Reply> {
  const url = new URL(t.stack.apiUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: new Headers(res.headers as Record<string, string>), text }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('path parameters and queries', () => {
  const segment = fc.oneof(
    fc.string({ maxLength: 60, unit: 'binary' }).map(encodeURIComponent),
    fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 12 }).map((bytes) => bytes.map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
    fc.constantFrom('..', '.', '%2F', '%2e%2e', '%', '%zz', '%E0%A4%A', '__proto__', 'constructor', 'cn_', 'rr_0000000000000000', 'wh_', 'call_', '[', '|', ';', ':id', '%00'),
    fc.stringMatching(/^[!$&'()*+,;=:@A-Za-z0-9._~-]{1,40}$/),
    fc.integer({ min: 1025, max: 3000 }).map((n) => 'a'.repeat(n)),
  );
  const template = fc.constantFrom(
    '/v2/connectors/{}',
    '/v2/connectors/{}/rotate-key',
    '/v2/sip/routing-rule/{}',
    '/v2/agents/{}',
    '/v2/agent/dispatch/{}',
    '/v2/sip/call/{}',
    '/v2/sip/webhooks/{}',
    '/v2/sip/webhooks/{}/deliveries',
    '/v2/sip/webhooks/{}/deliveries/{}',
    '/v2/sip/webhooks/{}/deliveries/{}/retry',
    '/v2/rooms/{}/tokens',
    '/v2/public/{}',
    '/v2/{}',
    '/v2/connectors/{}/{}',
  );

  it('answers any path segment on any method with a clear 4xx (the room of a token excepted)', async () => {
    await fc.assert(
      fc.asyncProperty(template, segment, segment, fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS'), async (path, a, b, method) => {
        const reply = await rawRequest(method, path.replace('{}', a).replace('{}', b));
        // A valid room id mints a token for that room: a success, not a parse.
        if (reply.status === 201 && path === '/v2/rooms/{}/tokens') return;
        expectClearRefusal(reply);
      }),
      { numRuns: 300 },
    );
  });

  const listPath = () => fc.constantFrom('/v2/connectors', '/v2/sip/routing-rule', '/v2/agents', '/v2/sip/call', '/v2/sip/webhooks', `/v2/sip/webhooks/${fixture.webhook}/deliveries`);
  const base64url = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
  const queryValue = fc.oneof(
    fc.constantFrom('0', '-1', '1', '1.5', '1e3', '1e2', '100', '101', 'abc', '', ' 5', '0x10', 'Infinity', 'NaN', '9'.repeat(400), 'true', 'null', '[]'),
    fc.constantFrom('pending', 'delivered', 'failed', 'incoming', 'answered', 'ended', 'rejected', 'fuzz-room', 'cn_0000000000000000'),
    fc.string({ maxLength: 40, unit: 'binary' }),
    fc.string({ maxLength: 30 }).map(base64url),
    fc.constantFrom('cn_0000000000000000', 'rr_0000000000000000', 'wh_00000000000000000000', 'whd_00000000000000000000', 'x'.repeat(300)).map(base64url),
    fc.jsonValue({ maxDepth: 2 }).map((v) => base64url(JSON.stringify(v))),
    fc.tuple(fc.constantFrom('2024-01-01T00:00:00.000Z', 'not a date', ''), fc.constantFrom('call_0000000000000000000a', 'call_', 'x')).map((pair) => base64url(JSON.stringify(pair))),
    fc.integer({ min: 201, max: 2000 }).map((n) => 'A'.repeat(n)),
  );
  const queryKey = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('limit', 'cursor', 'page', 'perPage', 'status', 'connectorId', 'roomId', 'search', 'type') }, { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS, 'LIMIT', 'limit[]', '') }, { weight: 1, arbitrary: fc.string({ maxLength: 10, unit: 'binary' }) });

  it('answers any list query with a page or a clear 400', async () => {
    await fc.assert(
      fc.asyncProperty(listPath(), fc.array(fc.tuple(queryKey, queryValue), { maxLength: 4 }), async (path, pairs) => {
        const query = new URLSearchParams(pairs.map(([k, v]): [string, string] => [k, v])).toString();
        const reply = await send('GET', `${path}${query ? `?${query}` : ''}`, { contentType: null });
        if (reply.status !== 200) return void expect(expectClearRefusal(reply)).toBeTruthy();
        // Cursor-paged lists say their `limit`; numbered ones (/v2/sip/…) their `perPage`.
        const page = JSON.parse(reply.text) as { data: unknown[]; pageInfo: { limit?: number; perPage?: number; currentPage?: number; lastPage?: number } };
        const size = page.pageInfo.limit ?? page.pageInfo.perPage ?? 0;
        expect(Number.isInteger(size) && size >= 1 && size <= 100).toBe(true);
        expect(page.data.length).toBeLessThanOrEqual(size);
        if (page.pageInfo.perPage !== undefined) expect(page.pageInfo.currentPage! >= 1 && page.pageInfo.lastPage! >= 1).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('pages through with the cursors it hands out', async () => {
    for (let i = 0; i < 3; i++) await t.api('POST', '/v2/connectors', { token, body: { provider: 'plivo' } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const reply = await send('GET', `/v2/connectors?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { contentType: null });
      expect(reply.status).toBe(200);
      const page = JSON.parse(reply.text) as { data: { id: string }[]; pageInfo: { nextCursor: string | null } };
      seen.push(...page.data.map((c) => c.id));
      cursor = page.pageInfo.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toContain(fixture.connector);
  });
});

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

it('answers the public route and unknown paths without a token as JSON', async () => {
  expectClearRefusal(await send('GET', '/v2/connectors', { authorization: '' }));
  const key = await send('GET', '/v2/public/rsa-public-key', { contentType: null, authorization: '' });
  expect([200, 503]).toContain(key.status);
  expect(JSON.parse(key.text)).toEqual(key.status === 200 ? { publicKey: expect.stringContaining('BEGIN PUBLIC KEY') } : { message: expect.any(String) });
});

it('keeps memory bounded over thousands of bad requests', async () => {
  const bad = (i: number): Promise<Reply> => {
    const [method, path] = bodyRoutes()[i % 7] as readonly [string, string];
    switch (i % 4) {
      case 0:
        return send(method, path, { body: `{"name":${'['.repeat(i % 3000)}` });
      case 1:
        return send(method, path, { body: JSON.stringify({ [`k${i}`]: 'v'.repeat(i % 5000) }) });
      case 2:
        return send('GET', `/v2/connectors?cursor=${Buffer.from(`cn_${i}`).toString('base64url')}&limit=${i}`, { contentType: null });
      default:
        return send(method, path, { body: 'x', authorization: `Bearer ${token.slice(0, -2)}${i}` });
    }
  };
  const batch = async (from: number, count: number) => {
    for (let i = from; i < from + count; i += 20) {
      const replies = await Promise.all(Array.from({ length: 20 }, (_, j) => bad(i + j)));
      for (const reply of replies) expectClearRefusal(reply);
    }
    t.logLines.length = 0;
  };
  await batch(0, 400);
  const before = heapAfterGc();
  await batch(400, 3000);
  const after = heapAfterGc();
  // A leak of 3 KB per request would show as 9 MB.
  expect(after - before).toBeLessThan(9 * 1024 * 1024);
}, 60_000);
