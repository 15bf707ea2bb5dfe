import { startTestStack, type TestStack } from '../support/stack';

let t: TestStack;
let acme: string;
let globex: string;

beforeAll(async () => {
  t = await startTestStack();
  acme = await t.token('acme');
  globex = await t.token('globex');
});
afterAll(() => t.close());

interface Rule {
  id: string;
  name: string;
  priority: number;
  match: Record<string, unknown>;
  room: Record<string, unknown>;
  agent: Record<string, unknown> | null;
  createdAt: string;
  updatedAt: string;
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

const full = {
  name: 'India callers to the agent',
  priority: 10,
  match: { phoneNumbers: ['+14155550199'], callerPatterns: ['+91*', '+1415555*'] },
  room: { type: 'dynamic', prefix: 'participantNumber' },
  agent: { url: 'wss://agent.example.com/ws', sampleRate: 24000, metadata: { persona: 'support', depth: { a: [1, 2] } } },
};

async function create(body: Record<string, unknown> = full, token = acme): Promise<Rule> {
  const res = await t.api('POST', '/v2/routing-rules', { token, body });
  expect(res.status).toBe(201);
  return (await json<{ data: Rule }>(res)).data;
}

describe('routing rules API', () => {
  it('creates, fetches, lists, updates and deletes a rule', async () => {
    const res = await t.api('POST', '/v2/routing-rules', { token: acme, body: full });
    expect(res.status).toBe(201);
    const created = await json<{ message: string; data: Rule }>(res);
    expect(created.message).toBe('Routing rule created successfully');
    expect(created.data).toEqual({ ...full, id: expect.stringMatching(/^rr_[0-9a-hjkmnp-tv-z]{16}$/), createdAt: expect.any(String), updatedAt: created.data.createdAt });
    const rule = created.data;

    expect(await json(await t.api('GET', `/v2/routing-rules/${rule.id}`, { token: acme }))).toEqual({ data: rule });
    const listed = await json<{ data: Rule[] }>(await t.api('GET', '/v2/routing-rules?limit=100', { token: acme }));
    expect(listed.data.map((r) => r.id)).toContain(rule.id);

    const patched = await json<{ data: Rule }>(
      await t.api('PATCH', `/v2/routing-rules/${rule.id}`, { token: acme, body: { priority: 3, agent: null, room: { type: 'static', id: 'fixed' } } }),
    );
    expect(patched.data).toEqual({ ...rule, priority: 3, agent: null, room: { type: 'static', id: 'fixed' }, updatedAt: expect.any(String) });
    expect(patched.data.updatedAt > rule.updatedAt).toBe(true);

    const deleted = await t.api('DELETE', `/v2/routing-rules/${rule.id}`, { token: acme });
    expect(await json(deleted)).toEqual({ message: 'Routing rule deleted successfully', data: patched.data });
    expect((await t.api('GET', `/v2/routing-rules/${rule.id}`, { token: acme })).status).toBe(404);
  });

  it('applies defaults: priority 100, dynamic prefix call, agent sample rate 16000, no agent', async () => {
    const rule = await create({ name: 'min', match: {}, room: { type: 'dynamic' } });
    expect(rule).toMatchObject({ priority: 100, room: { type: 'dynamic', prefix: 'call' }, agent: null });
    const withAgent = await create({ name: 'a', match: {}, room: { type: 'static', id: 'r' }, agent: { url: 'ws://localhost:9000/agent' } });
    expect(withAgent.agent).toEqual({ url: 'ws://localhost:9000/agent', sampleRate: 16000 });
  });

  it.each<[Record<string, unknown>, string, RegExp]>([
    [{ ...full, name: undefined }, 'name', /string/],
    [{ ...full, priority: -1 }, 'priority', /0-1000/],
    [{ ...full, priority: 1.5 }, 'priority', /integer/],
    [{ ...full, match: { phoneNumbers: ['14155550199'] } }, 'match.phoneNumbers.0', /E\.164/],
    [{ ...full, match: { phoneNumbers: ['+0123456789'] } }, 'match.phoneNumbers.0', /E\.164/],
    [{ ...full, match: { callerPatterns: ['+91?'] } }, 'match.callerPatterns.0', /wildcards/],
    [{ ...full, match: { countries: ['IN'] } }, 'match.countries', /Unknown field/],
    [{ ...full, room: { type: 'static' } }, 'room.id', /string|A-Z/],
    [{ ...full, room: { type: 'elastic', id: 'x' } }, 'room.type', /static|dynamic/],
    [{ ...full, room: { type: 'dynamic', prefix: 'weekday' } }, 'room.prefix', /call/],
    [{ ...full, agent: { url: 'https://agent.example.com' } }, 'agent.url', /ws:\/\/ or wss:\/\//],
    [{ ...full, agent: { url: 'not a url' } }, 'agent.url', /ws:\/\/ or wss:\/\//],
    [{ ...full, agent: { url: 'wss://a.example.com', sampleRate: 44100 } }, 'agent.sampleRate', /8000, 16000, 24000, 48000/],
    [{ ...full, agent: { url: 'wss://a.example.com', metadata: { big: 'x'.repeat(5000) } } }, 'agent.metadata', /4096/],
    [{ ...full, agent: { url: 'wss://a.example.com', token: 'x' } }, 'agent.token', /Unknown field/],
    [{ ...full, extra: true }, 'extra', /Unknown field/],
  ])('refuses %j with 400 naming the field', async (body, field, message) => {
    const res = await t.api('POST', '/v2/routing-rules', { token: acme, body });
    expect(res.status).toBe(400);
    const errors = (await json<{ errors: { field: string; message: string }[] }>(res)).errors;
    expect(errors).toContainEqual({ field, message: expect.stringMatching(message) });
  });

  it('refuses an empty PATCH and answers 404 for unknown ids', async () => {
    const rule = await create();
    expect((await t.api('PATCH', `/v2/routing-rules/${rule.id}`, { token: acme, body: {} })).status).toBe(400);
    for (const id of ['rr_0000000000000000', 'nope']) {
      expect((await t.api('GET', `/v2/routing-rules/${id}`, { token: acme })).status).toBe(404);
      expect((await t.api('PATCH', `/v2/routing-rules/${id}`, { token: acme, body: { name: 'x' } })).status).toBe(404);
      expect((await t.api('DELETE', `/v2/routing-rules/${id}`, { token: acme })).status).toBe(404);
    }
  });

  it('keeps every rule to its tenant', async () => {
    const rule = await create();
    for (const [method, body] of [['GET', undefined], ['PATCH', { name: 'stolen' }], ['DELETE', undefined]] as const) {
      const res = await t.api(method, `/v2/routing-rules/${rule.id}`, { token: globex, ...(body && { body }) });
      expect(res.status).toBe(404);
    }
    const theirs = await json<{ data: Rule[] }>(await t.api('GET', '/v2/routing-rules?limit=100', { token: globex }));
    expect(theirs.data.map((r) => r.id)).not.toContain(rule.id);
    // Nor can another tenant's connector name it as its default rule.
    const res = await t.api('POST', '/v2/connectors', { token: globex, body: { provider: 'plivo', defaultRuleId: rule.id } });
    expect(res.status).toBe(400);
    expect((await t.api('GET', `/v2/routing-rules/${rule.id}`, { token: acme })).status).toBe(200);
  });

  it('refuses to delete a rule a connector uses as defaultRuleId, with 409 naming the connectors', async () => {
    const rule = await create();
    const c = await json<{ data: { id: string } }>(await t.api('POST', '/v2/connectors', { token: acme, body: { provider: 'plivo', defaultRuleId: rule.id } }));
    const res = await t.api('DELETE', `/v2/routing-rules/${rule.id}`, { token: acme });
    expect(res.status).toBe(409);
    expect(await json(res)).toEqual({ message: `Routing rule ${rule.id} is the defaultRuleId of connector(s) ${c.data.id}; change them first`, code: 'conflict' });
    await t.api('PATCH', `/v2/connectors/${c.data.id}`, { token: acme, body: { defaultRuleId: null } });
    expect((await t.api('DELETE', `/v2/routing-rules/${rule.id}`, { token: acme })).status).toBe(200);
  });

  it('pages with a cursor, newest first', async () => {
    const tenant = await t.token('rule-pager');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create({ ...full, name: `r${i}` }, tenant)).id);
    const first = await json<{ data: Rule[]; pageInfo: { nextCursor: string } }>(await t.api('GET', '/v2/routing-rules?limit=3', { token: tenant }));
    const second = await json<{ data: Rule[]; pageInfo: { nextCursor: string | null } }>(
      await t.api('GET', `/v2/routing-rules?limit=3&cursor=${first.pageInfo.nextCursor}`, { token: tenant }),
    );
    expect([...first.data, ...second.data].map((r) => r.id)).toEqual([...ids].reverse());
    expect(second.pageInfo.nextCursor).toBeNull();
  });

  it('lets one of two concurrent updates win and tells the other 409, never losing a write silently', async () => {
    const rule = await create();
    const results = await Promise.all(
      [1, 2, 3, 4].map((p) => t.api('PATCH', `/v2/routing-rules/${rule.id}`, { token: acme, body: { priority: p } }).then((r) => r.status)),
    );
    expect(results.every((s) => s === 200 || s === 409)).toBe(true);
    expect(results).toContain(200);
  });
});
