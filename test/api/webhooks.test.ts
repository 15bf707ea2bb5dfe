import { plivoRequest, answerFields, newCall } from '../support/plivo';
import { startTestStack, type TestStack } from '../support/stack';
import { startReceiver } from '../support/webhook-receiver';
import { waitFor } from '../support/local-process';
import { WEBHOOK_EVENT_TYPES } from '../../core/events';

let t: TestStack;
let acme: string;
let globex: string;

beforeAll(async () => {
  t = await startTestStack();
  acme = await t.token('acme');
  globex = await t.token('globex');
});
afterAll(() => t.close());

interface Webhook {
  id: string;
  secret?: string;
  url: string;
  events: string[];
  createdAt: string;
  updatedAt: string;
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

async function create(body: Record<string, unknown>, token = acme): Promise<Webhook> {
  const res = await t.api('POST', '/v2/sip/webhooks', { token, body });
  expect(res.status).toBe(201);
  return json<Webhook>(res);
}

interface Listed {
  data: (Webhook & { webhookId: string })[];
  pageInfo: { currentPage: number; perPage: number; lastPage: number; total: number };
}

describe('webhooks API', () => {
  it('creates (all 18 events by default), fetches, lists, updates (PATCH and PUT) and deletes a webhook, each answering the object itself', async () => {
    const token = await t.token('crud');
    const res = await t.api('POST', '/v2/sip/webhooks', { token, body: { url: 'https://hooks.example.com/plivo' } });
    expect(res.status).toBe(201);
    const created = await json<Webhook>(res);
    expect(created).toEqual({
      id: expect.stringMatching(/^wh_[0-9a-hjkmnp-tv-z]{16}$/),
      url: 'https://hooks.example.com/plivo',
      events: [...WEBHOOK_EVENT_TYPES],
      // Shown this once: every later read leaves it out.
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      createdAt: expect.any(String),
      updatedAt: created.createdAt,
    });
    const hook: Webhook = { ...created };
    delete hook.secret;
    expect(await json(await t.api('GET', `/v2/sip/webhooks/${hook.id}`, { token }))).toEqual(hook);
    expect(await json(await t.api('GET', '/v2/sip/webhooks', { token }))).toEqual({
      data: [{ ...hook, webhookId: hook.id }],
      pageInfo: { currentPage: 1, perPage: 10, lastPage: 1, total: 1 },
    });

    const patched = await json<Webhook>(await t.api('PATCH', `/v2/sip/webhooks/${hook.id}`, { token, body: { events: ['call-hangup', 'call-started'] } }));
    // Events come back in the table's order, whatever order they were given in.
    expect(patched).toEqual({ ...hook, events: ['call-started', 'call-hangup'], updatedAt: expect.any(String) });
    expect(patched.updatedAt > hook.updatedAt).toBe(true);
    const put = await json<Webhook>(await t.api('PUT', `/v2/sip/webhooks/${hook.id}`, { token, body: { url: 'https://hooks.example.com/v2', events: ['switch-room-failed'] } }));
    expect(put).toEqual({ ...hook, url: 'https://hooks.example.com/v2', events: ['switch-room-failed'], updatedAt: expect.any(String) });

    const deleted = await t.api('DELETE', `/v2/sip/webhooks/${hook.id}`, { token });
    expect({ status: deleted.status, body: await deleted.json() }).toEqual({ status: 200, body: { message: 'Webhook deleted successfully' } });
    expect((await t.api('GET', `/v2/sip/webhooks/${hook.id}`, { token })).status).toBe(404);
    expect((await t.api('DELETE', `/v2/sip/webhooks/${hook.id}`, { token })).status).toBe(404);
    expect(await json(await t.api('GET', '/v2/sip/webhooks', { token }))).toEqual({ data: [], pageInfo: { currentPage: 1, perPage: 10, lastPage: 1, total: 0 } });
  });

  it('pages by number: perPage, the last page, a page past it empty, bad values a 400 {message, code}', async () => {
    const token = await t.token('paging');
    const made: Webhook[] = [];
    for (let i = 0; i < 5; i++) made.push(await create({ url: `https://hooks.example.com/${i}` }, token));
    const newestFirst = made.map((w) => w.id).reverse();
    const page = async (query: string) => json<Listed>(await t.api('GET', `/v2/sip/webhooks?${query}`, { token }));
    const p1 = await page('perPage=2');
    expect(p1.pageInfo).toEqual({ currentPage: 1, perPage: 2, lastPage: 3, total: 5 });
    expect(p1.data.map((w) => w.id)).toEqual(newestFirst.slice(0, 2));
    expect(p1.data.every((w) => w.webhookId === w.id)).toBe(true);
    expect((await page('page=2&perPage=2')).data.map((w) => w.id)).toEqual(newestFirst.slice(2, 4));
    const last = await page('page=3&perPage=2');
    expect({ ids: last.data.map((w) => w.id), info: last.pageInfo }).toEqual({ ids: newestFirst.slice(4), info: { currentPage: 3, perPage: 2, lastPage: 3, total: 5 } });
    expect(await page('page=4&perPage=2')).toEqual({ data: [], pageInfo: { currentPage: 4, perPage: 2, lastPage: 3, total: 5 } });
    expect((await page('perPage=100')).data).toHaveLength(5);
    // Digits alone: what a plain coercion would guess (` 2`, `1e1`, `0x10`, `2.0`, an empty value) is refused too.
    for (const query of ['page=0', 'page=-1', 'page=1.5', 'page=abc', 'page=%202', 'page=1e1', 'page=0x2', 'perPage=2.0', 'perPage=', 'perPage=0', 'perPage=101', 'limit=5', 'cursor=abc']) {
      const res = await t.api('GET', `/v2/sip/webhooks?${query}`, { token });
      expect({ query, status: res.status, body: await res.json() }).toEqual({ query, status: 400, body: expect.objectContaining({ message: expect.any(String), code: 'bad_request' }) });
    }
  });

  it('accepts each of the 15 event names, and refuses any other with a 400 listing them', async () => {
    const token = await t.token('events');
    expect((await create({ url: 'https://hooks.example.com/all', events: [...WEBHOOK_EVENT_TYPES].reverse() }, token)).events).toEqual([...WEBHOOK_EVENT_TYPES]);
    const res = await t.api('POST', '/v2/sip/webhooks', { token, body: { url: 'https://hooks.example.com', events: ['call-ended'] } });
    expect(res.status).toBe(400);
    const body = await json<{ message: string; code: string }>(res);
    expect(body.code).toBe('bad_request');
    expect(body.message).toContain(`must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}`);
  });

  it('no longer serves /v2/webhooks: no gateway route leads there (404, as API Gateway answers it)', async () => {
    for (const [method, path] of [['GET', '/v2/webhooks'], ['POST', '/v2/webhooks'], ['GET', '/v2/webhooks/wh_0000000000000000']] as const) {
      const res = await t.api(method, path, { token: acme, ...(method === 'POST' && { body: { url: 'https://hooks.example.com' } }) });
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
  });

  it.each([
    [{ url: 'ftp://hooks.example.com' }, 'url'],
    [{ url: 'not a url' }, 'url'],
    [{ url: 'http://hooks.example.com/plain' }, 'url'],
    [{ url: 'https://user:pw@hooks.example.com/' }, 'url'],
    [{ url: 'https://hooks.example.com', events: [] }, 'events'],
    [{ url: 'https://hooks.example.com', events: ['call-ringing', 'call-ended'] }, 'events.1'],
    [{ url: 'https://hooks.example.com', extra: 1 }, 'extra'],
    [{}, 'url'],
  ])('refuses %j with a 400 naming %s', async (body, field) => {
    const res = await t.api('POST', '/v2/sip/webhooks', { token: acme, body });
    expect(res.status).toBe(400);
    const out = await json<{ errors: { field: string }[] }>(res);
    expect(out.errors.map((e) => e.field)).toContain(field);
  });

  it('allows http only to localhost in local mode', async () => {
    expect((await create({ url: 'http://localhost:9999/hook' })).url).toBe('http://localhost:9999/hook');
    expect((await create({ url: 'http://127.0.0.1:9999/hook' })).url).toBe('http://127.0.0.1:9999/hook');
    expect((await t.api('POST', '/v2/sip/webhooks', { token: acme, body: { url: 'http://10.0.0.5/hook' } })).status).toBe(400);
  });

  it("keeps tenants apart: another tenant's webhook is 404 to read, change, delete or list deliveries of", async () => {
    const hook = await create({ url: 'https://acme.example.com/hook' });
    for (const [method, path, body] of [
      ['GET', `/v2/sip/webhooks/${hook.id}`],
      ['PATCH', `/v2/sip/webhooks/${hook.id}`, { url: 'https://evil.example.com' }],
      ['PUT', `/v2/sip/webhooks/${hook.id}`, { url: 'https://evil.example.com' }],
      ['DELETE', `/v2/sip/webhooks/${hook.id}`],
      ['GET', `/v2/sip/webhooks/${hook.id}/deliveries`],
      ['GET', `/v2/sip/webhooks/${hook.id}/deliveries/whd_0000000000000000`],
      ['POST', `/v2/sip/webhooks/${hook.id}/deliveries/whd_0000000000000000/retry`],
    ] as const) {
      const res = await t.api(method, path, { token: globex, ...(body && { body }) });
      expect({ method, path, status: res.status, code: ((await res.json()) as { code: string }).code }).toEqual({ method, path, status: 404, code: 'not_found' });
    }
    const theirs = await json<Listed>(await t.api('GET', '/v2/sip/webhooks', { token: globex }));
    expect(theirs.data.map((w) => w.id)).not.toContain(hook.id);
    expect((await json<Webhook>(await t.api('GET', `/v2/sip/webhooks/${hook.id}`, { token: acme }))).url).toBe('https://acme.example.com/hook');
  });

  it('answers 404 for unknown ids and 400 for a bad status filter', async () => {
    const hook = await create({ url: 'https://hooks.example.com/x' });
    expect((await t.api('GET', '/v2/sip/webhooks/wh_nope', { token: acme })).status).toBe(404);
    expect((await t.api('GET', `/v2/sip/webhooks/${hook.id}/deliveries/whd_nope`, { token: acme })).status).toBe(404);
    expect((await t.api('POST', `/v2/sip/webhooks/${hook.id}/deliveries/whd_nope/retry`, { token: acme })).status).toBe(404);
    expect((await t.api('GET', `/v2/sip/webhooks/${hook.id}/deliveries?status=lost`, { token: acme })).status).toBe(400);
    expect((await t.api('POST', `/v2/sip/webhooks/${hook.id}`, { token: acme, body: {} })).status).toBe(405);
    expect((await t.api('PUT', `/v2/sip/webhooks/${hook.id}`, { token: acme, body: {} })).status).toBe(400);
    expect((await t.api('PATCH', `/v2/sip/webhooks/${hook.id}`, { token: acme, body: 'url=x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
  });

  it('caps a tenant at 10 webhooks', async () => {
    const token = await t.token('busy');
    for (let i = 0; i < 10; i++) await create({ url: `https://hooks.example.com/${i}` }, token);
    const res = await t.api('POST', '/v2/sip/webhooks', { token, body: { url: 'https://hooks.example.com/11' } });
    expect(res.status).toBe(409);
  });

  it('holds the cap under 25 concurrent creates, and a delete gives the slot back', async () => {
    const token = await t.token('racing');
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) => t.api('POST', '/v2/sip/webhooks', { token, body: { url: `https://hooks.example.com/race/${i}` } })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array<number>(10).fill(201), ...Array<number>(15).fill(409)]);
    const conflict = (await json<{ message: string; code?: string }>(results.find((r) => r.status === 409) as Response)).message;
    expect(conflict).toBe('A tenant can have at most 10 webhooks; delete one first');
    const listed = await json<Listed>(await t.api('GET', '/v2/sip/webhooks?perPage=100', { token }));
    expect(listed.data).toHaveLength(10);
    expect(listed.pageInfo.total).toBe(10);
    expect((await t.api('DELETE', `/v2/sip/webhooks/${(listed.data[0] as Webhook).id}`, { token })).status).toBe(200);
    const again = await Promise.all(Array.from({ length: 3 }, () => t.api('POST', '/v2/sip/webhooks', { token, body: { url: 'https://hooks.example.com/again' } })));
    expect(again.map((r) => r.status).sort()).toEqual([201, 409, 409]);
  });

  it("lists a webhook's deliveries by page number, newest first, filtered by status", async () => {
    const receiver = await startReceiver();
    try {
      const token = await t.token('demo');
      const hook = await create({ url: receiver.url, events: ['call-hangup'] }, token);
      // Three refused calls (an invalid room): one call-hangup each.
      const calls = [newCall(), newCall(), newCall()];
      for (const call of calls) expect((await plivoRequest(`${t.stack.connector.webhookUrl}?roomId=bad%20room`, answerFields(call))).status).toBe(200);
      type Deliveries = { data: { id: string; status: string; payload: { data: { additionalDetails: { callUuid: string } } } }[]; pageInfo: Listed['pageInfo'] };
      const page = async (query: string) => json<Deliveries>(await t.api('GET', `/v2/sip/webhooks/${hook.id}/deliveries?${query}`, { token }));
      const all = await waitFor(async () => {
        const listed = await page('perPage=100&status=delivered');
        return listed.data.length === 3 ? listed : undefined;
      }, 10_000);
      expect(all.pageInfo).toEqual({ currentPage: 1, perPage: 100, lastPage: 1, total: 3 });
      expect(all.data.map((d) => d.payload.data.additionalDetails.callUuid)).toEqual(calls.map((c) => c.callUuid).reverse());
      const first = await page('perPage=2');
      expect(first.pageInfo).toEqual({ currentPage: 1, perPage: 2, lastPage: 2, total: 3 });
      expect(first.data.map((d) => d.id)).toEqual(all.data.slice(0, 2).map((d) => d.id));
      expect((await page('page=2&perPage=2')).data.map((d) => d.id)).toEqual(all.data.slice(2).map((d) => d.id));
      expect(await page('page=3&perPage=2')).toEqual({ data: [], pageInfo: { currentPage: 3, perPage: 2, lastPage: 2, total: 3 } });
      expect(await page('status=failed')).toEqual({ data: [], pageInfo: { currentPage: 1, perPage: 10, lastPage: 1, total: 0 } });
      // The cursor list's parameters are gone with it: one way to page.
      for (const query of ['limit=5', 'cursor=abc', 'page=0', 'perPage=101', 'status=lost']) {
        const res = await t.api('GET', `/v2/sip/webhooks/${hook.id}/deliveries?${query}`, { token });
        expect({ query, status: res.status, code: (await json<{ code: string }>(res)).code }).toEqual({ query, status: 400, code: 'bad_request' });
      }
      expect((await t.api('DELETE', `/v2/sip/webhooks/${hook.id}`, { token })).status).toBe(200);
    } finally {
      await receiver.close();
    }
  });

  it("delivers only the events a webhook subscribed to, and only its own tenant's", async () => {
    const mine = await startReceiver();
    const theirs = await startReceiver();
    try {
      const token = await t.token('demo');
      await create({ url: mine.url, events: ['call-hangup'] }, token);
      await create({ url: theirs.url }, globex);
      const call = newCall();
      // No room anywhere (the query names an invalid one): refused, recorded as a hangup with its reason.
      const res = await plivoRequest(`${t.stack.connector.webhookUrl}?roomId=bad%20room`, answerFields(call));
      expect(res.status).toBe(200);
      const [hangup] = await waitFor(() => (mine.received.length ? mine.received : undefined), 10_000);
      expect(hangup?.payload).toMatchObject({ webhookType: 'call-hangup', data: { status: 'rejected', additionalDetails: { callUuid: call.callUuid, hangupReason: 'invalid-room-id' } } });
      await new Promise((r) => setTimeout(r, 300));
      expect(mine.received).toHaveLength(1);
      expect(theirs.received).toHaveLength(0);
    } finally {
      await mine.close();
      await theirs.close();
    }
  });
});
