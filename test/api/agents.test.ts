import { json, stackForFile, type NumberedList } from '../support/stack';

const file = stackForFile('acme', 'globex');

interface Agent {
  id: string;
  name: string;
  url: string;
  sampleRate: number;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

type Listed = NumberedList<Agent>;

async function create(body: Record<string, unknown> = {}, token = file.tokens.acme): Promise<Agent> {
  const res = await file.t.api('POST', '/v2/agents', { token, body: { name: 'support bot', url: 'ws://localhost:9000/agent', ...body } });
  expect(res.status).toBe(201);
  return json<Agent>(res);
}

describe('agents API', () => {
  it('creates, fetches, lists, updates and deletes an agent, each answering the agent itself', async () => {
    const token = await file.t.token('agent-crud');
    const body = { name: 'support bot', url: 'wss://agent.example.com/ws', sampleRate: 24000, metadata: { persona: 'support', depth: { a: [1, 2] } } };
    const res = await file.t.api('POST', '/v2/agents', { token, body });
    expect(res.status).toBe(201);
    const agent = await json<Agent>(res);
    expect(agent).toEqual({ ...body, id: expect.stringMatching(/^ag_[0-9a-hjkmnp-tv-z]{16}$/), createdAt: expect.any(String), updatedAt: agent.createdAt });
    expect(await json(await file.t.api('GET', `/v2/agents/${agent.id}`, { token }))).toEqual(agent);
    expect(await json(await file.t.api('GET', '/v2/agents', { token }))).toEqual({ data: [agent], pageInfo: { currentPage: 1, perPage: 10, lastPage: 1, total: 1 } });

    const patched = await json<Agent>(await file.t.api('PATCH', `/v2/agents/${agent.id}`, { token, body: { sampleRate: 16000, metadata: { persona: 'sales' } } }));
    expect(patched).toEqual({ ...agent, sampleRate: 16000, metadata: { persona: 'sales' }, updatedAt: expect.any(String) });
    expect(patched.updatedAt > agent.updatedAt).toBe(true);
    // PUT does what PATCH does, as for rules and webhooks.
    const put = await json<Agent>(await file.t.api('PUT', `/v2/agents/${agent.id}`, { token, body: { name: 'sales bot' } }));
    expect(put).toEqual({ ...patched, name: 'sales bot', updatedAt: expect.any(String) });
    expect(await json(await file.t.api('GET', `/v2/agents/${agent.id}`, { token }))).toEqual(put);

    const deleted = await file.t.api('DELETE', `/v2/agents/${agent.id}`, { token });
    expect({ status: deleted.status, body: await deleted.json() }).toEqual({ status: 200, body: { message: 'Agent deleted successfully' } });
    expect((await file.t.api('GET', `/v2/agents/${agent.id}`, { token })).status).toBe(404);
    expect((await file.t.api('DELETE', `/v2/agents/${agent.id}`, { token })).status).toBe(404);
    expect(await json(await file.t.api('GET', '/v2/agents', { token }))).toEqual({ data: [], pageInfo: { currentPage: 1, perPage: 10, lastPage: 1, total: 0 } });
  });

  it('applies defaults: sample rate 16000, empty metadata', async () => {
    expect(await create()).toMatchObject({ sampleRate: 16000, metadata: {} });
  });

  it.each<[Record<string, unknown>, string, RegExp]>([
    [{ name: undefined }, 'name', /string/],
    [{ name: ' ' }, 'name', /empty/],
    [{ url: undefined }, 'url', /string/],
    [{ url: 'https://agent.example.com' }, 'url', /ws:\/\/ or wss:\/\//],
    [{ url: 'not a url' }, 'url', /ws:\/\/ or wss:\/\//],
    // The address policy: ws:// only to localhost here (local mode), never with credentials.
    [{ url: 'ws://10.0.0.1:8081/' }, 'url', /must be wss \(ws only for localhost or 127.0.0.1\)/],
    [{ url: 'wss://user:pass@agent.example.com/' }, 'url', /credentials/],
    [{ sampleRate: 44100 }, 'sampleRate', /8000, 16000, 24000, 48000/],
    [{ metadata: { big: 'x'.repeat(5000) } }, 'metadata', /4096/],
    [{ metadata: 'persona' }, 'metadata', /object|record/],
    [{ token: 'x' }, 'token', /Unknown field/],
  ])('refuses %j with 400 naming the field', async (body, field, message) => {
    const res = await file.t.api('POST', '/v2/agents', { token: file.tokens.acme, body: { name: 'bot', url: 'ws://localhost:9000/agent', ...body } });
    expect(res.status).toBe(400);
    const errors = (await json<{ errors: { field: string; message: string }[] }>(res)).errors;
    expect(errors).toContainEqual({ field, message: expect.stringMatching(message) });
  });

  it('refuses an empty PATCH or a bad url in one, and answers 404 for unknown ids', async () => {
    const agent = await create();
    expect((await file.t.api('PATCH', `/v2/agents/${agent.id}`, { token: file.tokens.acme, body: {} })).status).toBe(400);
    expect((await file.t.api('PUT', `/v2/agents/${agent.id}`, { token: file.tokens.acme, body: {} })).status).toBe(400);
    expect((await file.t.api('PATCH', `/v2/agents/${agent.id}`, { token: file.tokens.acme, body: { url: 'ws://10.0.0.1/' } })).status).toBe(400);
    expect(await json(await file.t.api('GET', `/v2/agents/${agent.id}`, { token: file.tokens.acme }))).toEqual(agent);
    for (const id of ['ag_0000000000000000', 'nope']) {
      expect((await file.t.api('GET', `/v2/agents/${id}`, { token: file.tokens.acme })).status).toBe(404);
      expect((await file.t.api('PATCH', `/v2/agents/${id}`, { token: file.tokens.acme, body: { name: 'x' } })).status).toBe(404);
      expect((await file.t.api('PUT', `/v2/agents/${id}`, { token: file.tokens.acme, body: { name: 'x' } })).status).toBe(404);
      expect((await file.t.api('DELETE', `/v2/agents/${id}`, { token: file.tokens.acme })).status).toBe(404);
    }
  });

  it("keeps every agent to its tenant: another tenant's id is 404 on every route", async () => {
    const agent = await create();
    for (const [method, body] of [['GET', undefined], ['PATCH', { name: 'stolen' }], ['PUT', { name: 'stolen' }], ['DELETE', undefined]] as const) {
      const res = await file.t.api(method, `/v2/agents/${agent.id}`, { token: file.tokens.globex, ...(body && { body }) });
      expect([method, res.status]).toEqual([method, 404]);
    }
    const theirs = await json<Listed>(await file.t.api('GET', '/v2/agents?perPage=100', { token: file.tokens.globex }));
    expect(theirs.data.map((a) => a.id)).not.toContain(agent.id);
    expect(await json(await file.t.api('GET', `/v2/agents/${agent.id}`, { token: file.tokens.acme }))).toEqual(agent);
  });

  it('refuses to delete an agent while a routing rule names it, with 409 naming the rules', async () => {
    const agent = await create();
    const rule = await json<{ id: string }>(
      await file.t.api('POST', '/v2/sip/routing-rule', { token: file.tokens.acme, body: { name: 'r', type: 'inbound', room: { type: 'static', id: 'r' }, agentId: agent.id } }),
    );
    const res = await file.t.api('DELETE', `/v2/agents/${agent.id}`, { token: file.tokens.acme });
    expect(res.status).toBe(409);
    expect(await json(res)).toEqual({ message: `Agent ${agent.id} is the agentId of routing rule(s) ${rule.id}; change them first`, code: 'conflict' });
    await file.t.api('PATCH', `/v2/sip/routing-rule/${rule.id}`, { token: file.tokens.acme, body: { agentId: null } });
    expect((await file.t.api('DELETE', `/v2/agents/${agent.id}`, { token: file.tokens.acme })).status).toBe(200);
  });

  it('pages by number, newest first: a page past the last is empty, bad values a 400', async () => {
    const token = await file.t.token('agent-pager');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create({ name: `a${i}` }, token)).id);
    const page = async (query: string) => json<Listed>(await file.t.api('GET', `/v2/agents?${query}`, { token }));
    const pages = [await page('perPage=2'), await page('perPage=2&page=2'), await page('perPage=2&page=3')];
    expect(pages.flatMap((p) => p.data.map((a) => a.id))).toEqual([...ids].reverse());
    expect(pages.map((p) => p.pageInfo)).toEqual([1, 2, 3].map((currentPage) => ({ currentPage, perPage: 2, lastPage: 3, total: 5 })));
    expect(await page('perPage=2&page=4')).toEqual({ data: [], pageInfo: { currentPage: 4, perPage: 2, lastPage: 3, total: 5 } });
    for (const bad of ['page=0', 'perPage=101', 'perPage=x', 'cursor=abc']) {
      const res = await file.t.api('GET', `/v2/agents?${bad}`, { token });
      expect([bad, res.status, (await json<{ code: string }>(res)).code]).toEqual([bad, 400, 'bad_request']);
    }
  });

  it('caps a tenant at 100 agents, however many creates race', async () => {
    const token = await file.t.token('agent-cap');
    const results = await Promise.all(Array.from({ length: 110 }, (_, i) => file.t.api('POST', '/v2/agents', { token, body: { name: `a${i}`, url: 'ws://localhost:9000/agent' } })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array<number>(100).fill(201), ...Array<number>(10).fill(409)]);
    expect((await json<{ message: string }>(results.find((r) => r.status === 409) as Response)).message).toBe('A tenant can have at most 100 agents; delete one first');
    expect((await json<Listed>(await file.t.api('GET', '/v2/agents', { token }))).pageInfo.total).toBe(100);
  });
});
