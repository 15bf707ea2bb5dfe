import { plivoRequest, answerFields, newCall } from '../support/plivo';
import { startTestStack, type TestStack } from '../support/stack';
import { startReceiver } from '../support/webhook-receiver';
import { waitFor } from '../support/local-process';

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
  const res = await t.api('POST', '/v2/webhooks', { token, body });
  expect(res.status).toBe(201);
  return (await json<{ data: Webhook }>(res)).data;
}

describe('webhooks API', () => {
  it('creates (all events by default), fetches, lists, updates and deletes a webhook', async () => {
    const res = await t.api('POST', '/v2/webhooks', { token: acme, body: { url: 'https://hooks.example.com/plivo' } });
    expect(res.status).toBe(201);
    const created = await json<{ message: string; data: Webhook }>(res);
    expect(created.message).toBe('Webhook created successfully');
    expect(created.data).toEqual({
      id: expect.stringMatching(/^wh_[0-9a-hjkmnp-tv-z]{16}$/),
      url: 'https://hooks.example.com/plivo',
      events: ['call-started', 'call-answered', 'call-hangup', 'call-missed'],
      // Shown this once: every later read leaves it out.
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      createdAt: expect.any(String),
      updatedAt: created.data.createdAt,
    });
    const hook: Webhook = { ...created.data };
    delete hook.secret;
    expect(await json(await t.api('GET', `/v2/webhooks/${hook.id}`, { token: acme }))).toEqual({ data: hook });
    const listed = await json<{ data: Webhook[]; pageInfo: unknown }>(await t.api('GET', '/v2/webhooks', { token: acme }));
    expect(listed.data.map((w) => w.id)).toContain(hook.id);

    const patched = await json<{ data: Webhook }>(await t.api('PATCH', `/v2/webhooks/${hook.id}`, { token: acme, body: { events: ['call-hangup', 'call-started'] } }));
    // Events come back in lifecycle order, whatever order they were given in.
    expect(patched.data).toEqual({ ...hook, events: ['call-started', 'call-hangup'], updatedAt: expect.any(String) });
    expect(patched.data.updatedAt > hook.updatedAt).toBe(true);

    expect((await t.api('DELETE', `/v2/webhooks/${hook.id}`, { token: acme })).status).toBe(200);
    expect((await t.api('GET', `/v2/webhooks/${hook.id}`, { token: acme })).status).toBe(404);
  });

  it.each([
    [{ url: 'ftp://hooks.example.com' }, 'url'],
    [{ url: 'not a url' }, 'url'],
    [{ url: 'http://hooks.example.com/plain' }, 'url'],
    [{ url: 'https://user:pw@hooks.example.com/' }, 'url'],
    [{ url: 'https://hooks.example.com', events: [] }, 'events'],
    [{ url: 'https://hooks.example.com', events: ['call-ringing'] }, 'events.0'],
    [{ url: 'https://hooks.example.com', extra: 1 }, 'extra'],
    [{}, 'url'],
  ])('refuses %j with a 400 naming %s', async (body, field) => {
    const res = await t.api('POST', '/v2/webhooks', { token: acme, body });
    expect(res.status).toBe(400);
    const out = await json<{ errors: { field: string }[] }>(res);
    expect(out.errors.map((e) => e.field)).toContain(field);
  });

  it('allows http only to localhost in local mode', async () => {
    expect((await create({ url: 'http://localhost:9999/hook' })).url).toBe('http://localhost:9999/hook');
    expect((await create({ url: 'http://127.0.0.1:9999/hook' })).url).toBe('http://127.0.0.1:9999/hook');
    expect((await t.api('POST', '/v2/webhooks', { token: acme, body: { url: 'http://10.0.0.5/hook' } })).status).toBe(400);
  });

  it("keeps tenants apart: another tenant's webhook is 404 to read, change, delete or list deliveries of", async () => {
    const hook = await create({ url: 'https://acme.example.com/hook' });
    for (const [method, path, body] of [
      ['GET', `/v2/webhooks/${hook.id}`],
      ['PATCH', `/v2/webhooks/${hook.id}`, { url: 'https://evil.example.com' }],
      ['DELETE', `/v2/webhooks/${hook.id}`],
      ['GET', `/v2/webhooks/${hook.id}/deliveries`],
      ['POST', `/v2/webhooks/${hook.id}/deliveries/whd_00000000000000000/retry`],
    ] as const) {
      expect((await t.api(method, path, { token: globex, ...(body && { body }) })).status).toBe(404);
    }
    const theirs = await json<{ data: Webhook[] }>(await t.api('GET', '/v2/webhooks', { token: globex }));
    expect(theirs.data.map((w) => w.id)).not.toContain(hook.id);
    expect((await json<{ data: Webhook }>(await t.api('GET', `/v2/webhooks/${hook.id}`, { token: acme }))).data.url).toBe('https://acme.example.com/hook');
  });

  it('answers 404 for unknown ids and 400 for a bad status filter', async () => {
    const hook = await create({ url: 'https://hooks.example.com/x' });
    expect((await t.api('GET', '/v2/webhooks/wh_nope', { token: acme })).status).toBe(404);
    expect((await t.api('GET', `/v2/webhooks/${hook.id}/deliveries/whd_nope`, { token: acme })).status).toBe(404);
    expect((await t.api('POST', `/v2/webhooks/${hook.id}/deliveries/whd_nope/retry`, { token: acme })).status).toBe(404);
    expect((await t.api('GET', `/v2/webhooks/${hook.id}/deliveries?status=lost`, { token: acme })).status).toBe(400);
    expect((await t.api('PUT', `/v2/webhooks/${hook.id}`, { token: acme, body: {} })).status).toBe(405);
  });

  it('caps a tenant at 10 webhooks', async () => {
    const token = await t.token('busy');
    for (let i = 0; i < 10; i++) await create({ url: `https://hooks.example.com/${i}` }, token);
    const res = await t.api('POST', '/v2/webhooks', { token, body: { url: 'https://hooks.example.com/11' } });
    expect(res.status).toBe(409);
  });

  it('holds the cap under 25 concurrent creates, and a delete gives the slot back', async () => {
    const token = await t.token('racing');
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) => t.api('POST', '/v2/webhooks', { token, body: { url: `https://hooks.example.com/race/${i}` } })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array<number>(10).fill(201), ...Array<number>(15).fill(409)]);
    const conflict = (await json<{ message: string; code?: string }>(results.find((r) => r.status === 409) as Response)).message;
    expect(conflict).toBe('A tenant can have at most 10 webhooks; delete one first');
    const listed = await json<{ data: Webhook[] }>(await t.api('GET', '/v2/webhooks?limit=100', { token }));
    expect(listed.data).toHaveLength(10);
    expect((await t.api('DELETE', `/v2/webhooks/${(listed.data[0] as Webhook).id}`, { token })).status).toBe(200);
    const again = await Promise.all(Array.from({ length: 3 }, () => t.api('POST', '/v2/webhooks', { token, body: { url: 'https://hooks.example.com/again' } })));
    expect(again.map((r) => r.status).sort()).toEqual([201, 409, 409]);
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
      expect(hangup?.payload).toMatchObject({ webhookType: 'call-hangup', data: { callUuid: call.callUuid, status: 'rejected', hangupReason: 'invalid-room-id' } });
      await new Promise((r) => setTimeout(r, 300));
      expect(mine.received).toHaveLength(1);
      expect(theirs.received).toHaveLength(0);
    } finally {
      await mine.close();
      await theirs.close();
    }
  });
});
