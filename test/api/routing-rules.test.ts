import { json, stackForFile, type NumberedList } from '../support/stack';

const file = stackForFile('acme', 'globex');

interface Rule {
  id: string;
  name: string;
  type: string;
  phoneNumbers: string[];
  numbers: string[];
  room: Record<string, unknown> | null;
  agentId: string | null;
  tags: string[];
  createdAt: string;
  updatedAt: string;
}

type Listed = NumberedList<Rule>;

let nextNumber = 100;
/** A number no other test of this file uses. */
const freshNumber = () => `+1415555${String(nextNumber++).padStart(4, '0')}`;

async function agent(token = file.tokens.acme): Promise<string> {
  const res = await file.t.api('POST', '/v2/agents', { token, body: { name: 'bot', url: 'ws://127.0.0.1:9/agent' } });
  expect(res.status).toBe(201);
  return (await json<{ id: string }>(res)).id;
}

async function create(body: Record<string, unknown>, token = file.tokens.acme): Promise<Rule> {
  const res = await file.t.api('POST', '/v2/sip/routing-rule', { token, body: { name: 'rule', type: 'inbound', room: { type: 'static', id: 'r' }, ...body } });
  expect([res.status, res.status === 201 ? '' : await res.text()]).toEqual([201, '']);
  return json<Rule>(res);
}

describe('SIP routing rules API', () => {
  it('creates (with every field), fetches, lists, updates (PATCH and PUT) and deletes a rule, each answering the rule itself', async () => {
    const token = await file.t.token('rule-crud');
    const agentId = await agent(token);
    const full = {
      name: 'India callers to the agent',
      type: 'inbound',
      phoneNumbers: ['+14155550199'],
      room: { type: 'dynamic', prefix: 'participantNumber', pin: '4321' },
      agentId,
      agentMetadata: { persona: 'support', depth: { a: [1, 2] } },
      allowedNumbers: ['+91*', '+1415555*'],
      recording: true,
      noiseCancellation: true,
      noiseCancellationLevel: 80,
      dtmf: false,
      hidePhoneNumber: true,
      tags: ['support', 'india'],
      includeHeaders: 'SIP_X_HEADERS',
      headersToAttributes: { 'X-PH-Account': 'account' },
      headers: {},
    };
    const res = await file.t.api('POST', '/v2/sip/routing-rule', { token, body: full });
    expect(res.status).toBe(201);
    const rule = await json<Rule>(res);
    expect(rule).toEqual({ ...full, numbers: full.phoneNumbers, id: expect.stringMatching(/^rr_[0-9a-hjkmnp-tv-z]{16}$/), createdAt: expect.any(String), updatedAt: rule.createdAt });

    expect(await json(await file.t.api('GET', `/v2/sip/routing-rule/${rule.id}`, { token }))).toEqual(rule);
    expect(await json(await file.t.api('GET', '/v2/sip/routing-rule', { token }))).toEqual({ data: [rule], pageInfo: { currentPage: 1, perPage: 10, lastPage: 1, total: 1 } });

    const patched = await json<Rule>(await file.t.api('PATCH', `/v2/sip/routing-rule/${rule.id}`, { token, body: { agentId: null, room: { type: 'static', id: 'fixed' }, phoneNumbers: ['+14155550188'] } }));
    expect(patched).toEqual({ ...rule, agentId: null, room: { type: 'static', id: 'fixed' }, phoneNumbers: ['+14155550188'], numbers: ['+14155550188'], updatedAt: expect.any(String) });
    expect(patched.updatedAt > rule.updatedAt).toBe(true);
    const put = await json<Rule>(await file.t.api('PUT', `/v2/sip/routing-rule/${rule.id}`, { token, body: { name: 'renamed' } }));
    expect(put).toEqual({ ...patched, name: 'renamed', updatedAt: expect.any(String) });

    const deleted = await file.t.api('DELETE', `/v2/sip/routing-rule/${rule.id}`, { token });
    expect({ status: deleted.status, body: await deleted.json() }).toEqual({ status: 200, body: { message: 'Routing rule deleted successfully' } });
    expect((await file.t.api('GET', `/v2/sip/routing-rule/${rule.id}`, { token })).status).toBe(404);
    expect((await file.t.api('DELETE', `/v2/sip/routing-rule/${rule.id}`, { token })).status).toBe(404);
    expect(await json(await file.t.api('GET', '/v2/sip/routing-rule', { token }))).toEqual({ data: [], pageInfo: { currentPage: 1, perPage: 10, lastPage: 1, total: 0 } });
  });

  it('applies defaults: no numbers, dynamic prefix blank, no agent, dtmf on, the rest off or empty', async () => {
    const rule = await create({ name: 'min', room: { type: 'dynamic' } });
    expect(rule).toMatchObject({
      phoneNumbers: [],
      numbers: [],
      room: { type: 'dynamic', prefix: 'blank' },
      agentId: null,
      agentMetadata: {},
      allowedNumbers: [],
      recording: false,
      noiseCancellation: false,
      noiseCancellationLevel: null,
      dtmf: true,
      hidePhoneNumber: false,
      tags: [],
      includeHeaders: 'NONE',
      headersToAttributes: {},
      headers: {},
    });
    // An outbound rule needs no room, and may carry the SIP headers its calls send.
    const outbound = await create({ name: 'out', type: 'outbound', room: undefined, phoneNumbers: ['+14155550100'], headers: { 'X-PH-Campaign': 'spring' } });
    expect(outbound).toMatchObject({ type: 'outbound', room: null, headers: { 'X-PH-Campaign': 'spring' } });
  });

  it.each<[Record<string, unknown>, string, RegExp]>([
    [{ name: undefined }, 'name', /string/],
    [{ type: undefined }, 'type', /inbound, outbound/],
    [{ type: 'sideways' }, 'type', /inbound, outbound/],
    [{ phoneNumbers: ['14155550199'] }, 'phoneNumbers.0', /E\.164/],
    [{ phoneNumbers: ['+0123456789'] }, 'phoneNumbers.0', /E\.164/],
    [{ allowedNumbers: ['+91?'] }, 'allowedNumbers.0', /wildcards/],
    [{ room: { type: 'static' } }, 'room.id', /string|A-Z/],
    [{ room: { type: 'elastic', id: 'x' } }, 'room.type', /static|dynamic/],
    [{ room: { type: 'dynamic', prefix: 'call' } }, 'room.prefix', /blank/],
    [{ room: { type: 'static', id: 'r', pin: '12' } }, 'room.pin', /4-12 digits/],
    [{ room: undefined }, 'room', /required for an inbound rule/],
    [{ agentId: 'ag_nope' }, 'agentId', /agent id/],
    [{ agentId: 'ag_0000000000000000' }, 'agentId', /agent ag_0000000000000000 not found/],
    [{ agentMetadata: { big: 'x'.repeat(5000) } }, 'agentMetadata', /4096/],
    [{ noiseCancellationLevel: 59 }, 'noiseCancellationLevel', /60-100/],
    [{ noiseCancellationLevel: 101 }, 'noiseCancellationLevel', /60-100/],
    [{ dtmf: 'yes' }, 'dtmf', /boolean/],
    [{ tags: [''] }, 'tags.0', /empty/],
    [{ includeHeaders: 'SOME' }, 'includeHeaders', /NONE|ALL/],
    [{ headersToAttributes: { 'X PH': 'a' } }, 'headersToAttributes', /A-Z a-z 0-9 -/],
    [{ headers: { 'X-PH-A': 'b' } }, 'headers', /outbound rules/],
    [{ type: 'outbound', headers: { 'X-PH-A': 'not ok!' } }, 'headers.X-PH-A', /A-Z a-z 0-9/],
    [{ type: 'outbound', headersToAttributes: { 'X-PH-A': 'a' } }, 'headersToAttributes', /inbound rules/],
    [{ priority: 1 }, 'priority', /Unknown field/],
    [{ match: { phoneNumbers: [] } }, 'match', /Unknown field/],
    [{ agent: { url: 'wss://agent.example.com' } }, 'agent', /Unknown field/],
  ])('refuses %j with 400 naming the field', async (body, field, message) => {
    const res = await file.t.api('POST', '/v2/sip/routing-rule', { token: file.tokens.acme, body: { name: 'rule', type: 'inbound', room: { type: 'static', id: 'r' }, ...body } });
    expect(res.status).toBe(400);
    const errors = (await json<{ errors: { field: string; message: string }[] }>(res)).errors;
    expect(errors).toContainEqual({ field, message: expect.stringMatching(message) });
  });

  it('refuses to change a rule’s type, an empty PATCH, and answers 404 for unknown ids', async () => {
    const rule = await create({});
    const typed = await file.t.api('PATCH', `/v2/sip/routing-rule/${rule.id}`, { token: file.tokens.acme, body: { type: 'outbound' } });
    expect(typed.status).toBe(400);
    expect((await json<{ errors: unknown[] }>(typed)).errors).toContainEqual({ field: 'type', message: expect.stringMatching(/cannot be changed/) });
    expect((await file.t.api('PUT', `/v2/sip/routing-rule/${rule.id}`, { token: file.tokens.acme, body: { type: 'inbound', name: 'x' } })).status).toBe(400);
    expect((await file.t.api('PATCH', `/v2/sip/routing-rule/${rule.id}`, { token: file.tokens.acme, body: {} })).status).toBe(400);
    // What the merged rule must be is checked too: an inbound rule cannot lose its room.
    expect((await file.t.api('PATCH', `/v2/sip/routing-rule/${rule.id}`, { token: file.tokens.acme, body: { headers: { A: 'b' } } })).status).toBe(400);
    expect(await json(await file.t.api('GET', `/v2/sip/routing-rule/${rule.id}`, { token: file.tokens.acme }))).toEqual(rule);
    for (const id of ['rr_0000000000000000', 'nope']) {
      expect((await file.t.api('GET', `/v2/sip/routing-rule/${id}`, { token: file.tokens.acme })).status).toBe(404);
      expect((await file.t.api('PATCH', `/v2/sip/routing-rule/${id}`, { token: file.tokens.acme, body: { name: 'x' } })).status).toBe(404);
      expect((await file.t.api('DELETE', `/v2/sip/routing-rule/${id}`, { token: file.tokens.acme })).status).toBe(404);
    }
  });

  it("keeps every rule to its tenant: another tenant's id is 404 on every route, and their agents are not ours to name", async () => {
    const rule = await create({ phoneNumbers: [freshNumber()] });
    for (const [method, body] of [['GET', undefined], ['PATCH', { name: 'stolen' }], ['PUT', { name: 'stolen' }], ['DELETE', undefined]] as const) {
      const res = await file.t.api(method, `/v2/sip/routing-rule/${rule.id}`, { token: file.tokens.globex, ...(body && { body }) });
      expect([method, res.status]).toEqual([method, 404]);
    }
    const theirs = await json<Listed>(await file.t.api('GET', '/v2/sip/routing-rule?perPage=100', { token: file.tokens.globex }));
    expect(theirs.data.map((r) => r.id)).not.toContain(rule.id);
    // Another tenant's connector cannot name it as its default rule, nor its rule name our agent.
    expect((await file.t.api('POST', '/v2/connectors', { token: file.tokens.globex, body: { provider: 'plivo', defaultRuleId: rule.id } })).status).toBe(400);
    const ours = await agent();
    const res = await file.t.api('POST', '/v2/sip/routing-rule', { token: file.tokens.globex, body: { name: 'r', type: 'inbound', room: { type: 'static', id: 'r' }, agentId: ours } });
    expect(res.status).toBe(400);
    // Numbers are per tenant: another tenant may route the same number.
    await create({ phoneNumbers: rule.phoneNumbers }, file.tokens.globex);
    expect(await json(await file.t.api('GET', `/v2/sip/routing-rule/${rule.id}`, { token: file.tokens.acme }))).toEqual(rule);
  });

  it('keeps each number to one inbound rule: 409 on create and update, free again once deleted or moved; outbound rules share freely', async () => {
    const [a, b, c] = [freshNumber(), freshNumber(), freshNumber()];
    const first = await create({ phoneNumbers: [a, b] });
    const taken = await file.t.api('POST', '/v2/sip/routing-rule', { token: file.tokens.acme, body: { name: 'twin', type: 'inbound', room: { type: 'static', id: 'r' }, phoneNumbers: [c, b] } });
    expect(taken.status).toBe(409);
    expect(await json(taken)).toEqual({ message: `${b} already belongs to inbound routing rule ${first.id}; a number routes to one inbound rule`, code: 'conflict' });
    // The refused create held nothing: c is still free.
    const second = await create({ phoneNumbers: [c] });
    expect((await file.t.api('PATCH', `/v2/sip/routing-rule/${second.id}`, { token: file.tokens.acme, body: { phoneNumbers: [c, a] } })).status).toBe(409);
    expect(await json(await file.t.api('GET', `/v2/sip/routing-rule/${second.id}`, { token: file.tokens.acme }))).toEqual(second);
    await create({ type: 'outbound', phoneNumbers: [a, c] });
    await create({ type: 'outbound', phoneNumbers: [a] });
    // Moving b off the first rule frees it; deleting the first frees a.
    await file.t.api('PATCH', `/v2/sip/routing-rule/${first.id}`, { token: file.tokens.acme, body: { phoneNumbers: [a] } });
    await create({ phoneNumbers: [b] });
    expect((await file.t.api('DELETE', `/v2/sip/routing-rule/${first.id}`, { token: file.tokens.acme })).status).toBe(200);
    await create({ phoneNumbers: [a] });
  });

  it('lets exactly one of 10 concurrent creates for the same number have it', async () => {
    const number = freshNumber();
    const statuses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        file.t.api('POST', '/v2/sip/routing-rule', { token: file.tokens.acme, body: { name: `race ${i}`, type: 'inbound', room: { type: 'static', id: 'r' }, phoneNumbers: [number] } }).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(9);
  });

  it('keeps a number held when concurrent updates of one rule all add it and all but the winner lose', async () => {
    for (let round = 0; round < 3; round++) {
      const number = freshNumber();
      const rule = await create({});
      const statuses = await Promise.all(
        [1, 2, 3, 4, 5].map((n) => file.t.api('PATCH', `/v2/sip/routing-rule/${rule.id}`, { token: file.tokens.acme, body: { name: `n${n}`, phoneNumbers: [number] } }).then((r) => r.status)),
      );
      expect(statuses).toContain(200);
      const twin = await file.t.api('POST', '/v2/sip/routing-rule', { token: file.tokens.acme, body: { name: 'twin', type: 'inbound', room: { type: 'static', id: 'r' }, phoneNumbers: [number] } });
      expect([round, statuses, twin.status]).toEqual([round, statuses, 409]);
    }
  });

  it('refuses to delete a rule a connector uses as defaultRuleId, with 409 naming the connectors', async () => {
    const rule = await create({});
    const c = await json<{ data: { id: string } }>(await file.t.api('POST', '/v2/connectors', { token: file.tokens.acme, body: { provider: 'plivo', defaultRuleId: rule.id } }));
    const res = await file.t.api('DELETE', `/v2/sip/routing-rule/${rule.id}`, { token: file.tokens.acme });
    expect(res.status).toBe(409);
    expect(await json(res)).toEqual({ message: `Routing rule ${rule.id} is the defaultRuleId of connector(s) ${c.data.id}; change them first`, code: 'conflict' });
    await file.t.api('PATCH', `/v2/connectors/${c.data.id}`, { token: file.tokens.acme, body: { defaultRuleId: null } });
    expect((await file.t.api('DELETE', `/v2/sip/routing-rule/${rule.id}`, { token: file.tokens.acme })).status).toBe(200);
  });

  it('pages by number, newest first, and filters by type and by search over name, numbers and tags', async () => {
    const token = await file.t.token('rule-pager');
    const rules: Rule[] = [];
    for (let i = 0; i < 5; i++) {
      rules.push(await create({ name: `Rule ${i}`, type: i % 2 ? 'outbound' : 'inbound', phoneNumbers: [`+1212555010${i}`], tags: i === 3 ? ['VIP'] : [] }, token));
    }
    const newest = [...rules].reverse().map((r) => r.id);
    const page = async (query: string) => json<Listed>(await file.t.api('GET', `/v2/sip/routing-rule?${query}`, { token }));
    const first = await page('perPage=2');
    expect(first.pageInfo).toEqual({ currentPage: 1, perPage: 2, lastPage: 3, total: 5 });
    const pages = [first, await page('perPage=2&page=2'), await page('perPage=2&page=3')];
    expect(pages.flatMap((p) => p.data.map((r) => r.id))).toEqual(newest);
    expect(await page('perPage=2&page=4')).toEqual({ data: [], pageInfo: { currentPage: 4, perPage: 2, lastPage: 3, total: 5 } });

    const ids = async (query: string) => (await page(query)).data.map((r) => r.id);
    expect(await ids('type=outbound')).toEqual([rules[3]?.id, rules[1]?.id]);
    expect(await ids('search=rule%202')).toEqual([rules[2]?.id]);
    expect(await ids('search=5550104')).toEqual([rules[4]?.id]);
    expect(await ids('search=vip&type=outbound')).toEqual([rules[3]?.id]);
    expect(await ids('search=vip&type=inbound')).toEqual([]);
    const filtered = await page('type=inbound&perPage=2&page=2');
    expect(filtered).toEqual({ data: [rules[0]], pageInfo: { currentPage: 2, perPage: 2, lastPage: 2, total: 3 } });
    for (const bad of ['type=both', 'page=0', 'perPage=101', 'search=', 'limit=5']) {
      const res = await file.t.api('GET', `/v2/sip/routing-rule?${bad}`, { token });
      expect([bad, res.status, (await json<{ code: string }>(res)).code]).toEqual([bad, 400, 'bad_request']);
    }
  });

  it('lets one of two concurrent updates win and tells the other 409, never losing a write silently', async () => {
    const rule = await create({});
    const results = await Promise.all([1, 2, 3, 4].map((n) => file.t.api('PATCH', `/v2/sip/routing-rule/${rule.id}`, { token: file.tokens.acme, body: { name: `n${n}` } }).then((r) => r.status)));
    expect(results.every((s) => s === 200 || s === 409)).toBe(true);
    expect(results).toContain(200);
  });

  it('no longer serves /v2/routing-rules (404, as API Gateway answers a path it has no route for)', async () => {
    for (const [method, path] of [['GET', '/v2/routing-rules'], ['POST', '/v2/routing-rules'], ['GET', '/v2/routing-rules/rr_0000000000000000']] as const) {
      const res = await file.t.api(method, path, { token: file.tokens.acme, ...(method === 'POST' && { body: { name: 'x' } }) });
      expect([path, res.status]).toEqual([path, 404]);
    }
  });
});
