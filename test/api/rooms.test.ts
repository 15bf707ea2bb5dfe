import { callIdFor } from '../../core/calls/model';
import { answerFields, newCall, parseAnswer, plivoRequest, streamOf } from '../support/plivo';
import { json, stackForFile, type NumberedList } from '../support/stack';

const file = stackForFile('acme', 'globex');

interface Room {
  id: string;
  roomId: string;
  customRoomId: string | null;
  disabled: boolean;
  webhook?: { endPoint: string; events: string[] };
  autoCloseConfig?: { type: string; duration?: number };
  createdAt: string;
  updatedAt: string;
}

const HANGUP = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup reason="rejected"/></Response>';

async function create(body?: Record<string, unknown>, token = file.tokens.acme): Promise<Room> {
  const res = await file.t.api('POST', '/v2/rooms', { token, ...(body && { body }) });
  expect(res.status).toBe(201);
  return json<Room>(res);
}

const get = (path: string, token = file.tokens.acme) => file.t.api('GET', path, { token });
const deactivate = (roomId: string, token = file.tokens.acme) => file.t.api('POST', '/v2/rooms/deactivate', { token, body: { roomId } });

describe('rooms API', () => {
  it('creates a room with no body, answering the room itself, found by id, roomId and on validate', async () => {
    const room = await create();
    expect(room).toEqual({
      id: expect.stringMatching(/^rm_[0-9a-hjkmnp-tv-z]{16}$/),
      roomId: expect.stringMatching(/^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/),
      customRoomId: null,
      disabled: false,
      createdAt: expect.any(String),
      updatedAt: room.createdAt,
    });
    for (const path of [`/v2/rooms/${room.id}`, `/v2/rooms/${room.roomId}`, `/v2/rooms/validate/${room.id}`, `/v2/rooms/validate/${room.roomId}`]) {
      const res = await get(path);
      expect([path, res.status, await res.json()]).toEqual([path, 200, room]);
    }
    // Generated roomIds differ: they are what a participant token or a rule names, so they must not be guessed.
    expect((await create({})).roomId).not.toBe(room.roomId);
  });

  it('stores customRoomId, webhook and autoCloseConfig, and finds the room by its customRoomId', async () => {
    const body = {
      customRoomId: 'support-desk',
      webhook: { endPoint: 'http://localhost:9999/rooms', events: ['participant-left', 'session-started'] },
      autoCloseConfig: { type: 'session-end-and-deactivate', duration: 30 },
    };
    const room = await create(body);
    // Events are kept in their table's order.
    expect(room).toMatchObject({ ...body, webhook: { endPoint: body.webhook.endPoint, events: ['session-started', 'participant-left'] }, disabled: false });
    expect(await json(await get('/v2/rooms/support-desk'))).toEqual(room);
    expect(await json(await get('/v2/rooms/validate/support-desk'))).toEqual(room);
    expect(await json(await get(`/v2/rooms/${room.roomId}`))).toEqual(room);
  });

  it('is idempotent on customRoomId: the same room back, however many creates race', async () => {
    const token = await file.t.token('room-race');
    const first = await create({ customRoomId: 'townhall' }, token);
    expect(await create({ customRoomId: 'townhall', autoCloseConfig: { type: 'session-ends' } }, token)).toEqual(first);
    const racing = await Promise.all(Array.from({ length: 20 }, () => file.t.api('POST', '/v2/rooms', { token, body: { customRoomId: 'standup' } })));
    expect(racing.map((r) => r.status)).toEqual(Array<number>(20).fill(201));
    const rooms = await Promise.all(racing.map((r) => json<Room>(r)));
    expect(new Set(rooms.map((r) => r.id)).size).toBe(1);
    expect(new Set(rooms.map((r) => r.roomId)).size).toBe(1);
    const listed = await json<NumberedList<Room>>(await get('/v2/rooms?perPage=100', token));
    expect(listed.data.map((r) => r.customRoomId)).toEqual(['standup', 'townhall']);
    expect(listed.pageInfo.total).toBe(2);
  });

  it.each<[Record<string, unknown>, string, RegExp]>([
    [{ customRoomId: 'abcd-efgh-ijkl' }, 'customRoomId', /xxxx-xxxx-xxxx/],
    [{ customRoomId: 'rm_0123456789abcdef' }, 'customRoomId', /room record id/],
    [{ customRoomId: 'has space' }, 'customRoomId', /1-128 characters/],
    [{ customRoomId: 'x'.repeat(129) }, 'customRoomId', /1-128 characters/],
    [{ customRoomId: 7 }, 'customRoomId', /string/],
    [{ webhook: { endPoint: 'http://localhost/x', events: [] } }, 'webhook.events', /at least one event/],
    [{ webhook: { endPoint: 'http://localhost/x', events: ['call-hangup'] } }, 'webhook.events.0', /session-started, session-ended, participant-joined, participant-left/],
    [{ webhook: { events: ['session-ended'] } }, 'webhook.endPoint', /string/],
    [{ webhook: { endPoint: 'http://localhost/x', events: ['session-ended'], url: 'x' } }, 'webhook.url', /Unknown field/],
    // The /v2/sip/webhooks address policy: http only to localhost here (local mode), never with credentials.
    [{ webhook: { endPoint: 'http://10.0.0.1/hook', events: ['session-ended'] } }, 'webhook.endPoint', /must be https \(http only for localhost or 127.0.0.1\)/],
    [{ webhook: { endPoint: 'https://user:pass@example.com/', events: ['session-ended'] } }, 'webhook.endPoint', /credentials/],
    [{ webhook: { endPoint: 'not a url', events: ['session-ended'] } }, 'webhook.endPoint', /absolute URL/],
    [{ autoCloseConfig: { type: 'never' } }, 'autoCloseConfig.type', /session-ends, session-end-and-deactivate/],
    [{ autoCloseConfig: { type: 'session-ends', duration: 0 } }, 'autoCloseConfig.duration', /1-1440/],
    [{ autoCloseConfig: { type: 'session-ends', duration: 1.5 } }, 'autoCloseConfig.duration', /integer/],
    [{ roomId: 'abcd-efgh-ijkl' }, 'roomId', /Unknown field/],
  ])('refuses %j with 400 naming the field', async (body, field, message) => {
    const res = await file.t.api('POST', '/v2/rooms', { token: file.tokens.acme, body });
    expect(res.status).toBe(400);
    const answer = await json<{ code: string; errors: { field: string; message: string }[] }>(res);
    expect(answer.code).toBe('bad_request');
    expect(answer.errors).toContainEqual({ field, message: expect.stringMatching(message) });
  });

  it('pages by number, newest first; query matches a roomId or customRoomId exactly; bad values are a 400', async () => {
    const token = await file.t.token('room-pager');
    const rooms: Room[] = [];
    for (let i = 0; i < 5; i++) rooms.push(await create(i % 2 ? { customRoomId: `pager-${i}` } : {}, token));
    const page = async (query: string) => json<NumberedList<Room>>(await get(`/v2/rooms?${query}`, token));
    const pages = [await page('perPage=2'), await page('perPage=2&page=2'), await page('perPage=2&page=3')];
    expect(pages.flatMap((p) => p.data)).toEqual([...rooms].reverse());
    expect(pages.map((p) => p.pageInfo)).toEqual([1, 2, 3].map((currentPage) => ({ currentPage, perPage: 2, lastPage: 3, total: 5 })));
    expect(await page('perPage=2&page=4')).toEqual({ data: [], pageInfo: { currentPage: 4, perPage: 2, lastPage: 3, total: 5 } });
    expect(await page('')).toEqual({ data: [...rooms].reverse(), pageInfo: { currentPage: 1, perPage: 10, lastPage: 1, total: 5 } });

    const one = { currentPage: 1, perPage: 10, lastPage: 1, total: 1 };
    expect(await page(`query=${rooms[0]?.roomId}`)).toEqual({ data: [rooms[0]], pageInfo: one });
    expect(await page('query=pager-1')).toEqual({ data: [rooms[1]], pageInfo: one });
    expect(await page(`query=${rooms[1]?.roomId}`)).toEqual({ data: [rooms[1]], pageInfo: one });
    expect(await page('query=pager-1&page=2')).toEqual({ data: [], pageInfo: { ...one, currentPage: 2 } });
    const none = { data: [], pageInfo: { ...one, total: 0 } };
    for (const partial of ['pager', 'pager-', 'PAGER-1', rooms[0]?.roomId.slice(0, 9), 'a b']) expect([partial, await page(`query=${encodeURIComponent(partial ?? '')}`)]).toEqual([partial, none]);
    for (const bad of ['page=0', 'perPage=101', 'perPage=x', 'cursor=abc', `query=${'x'.repeat(129)}`]) {
      const res = await get(`/v2/rooms?${bad}`, token);
      expect([bad, res.status, (await json<{ code: string }>(res)).code]).toEqual([bad, 400, 'bad_request']);
    }
  });

  it('answers 404 for unknown rooms on every route', async () => {
    for (const ref of ['rm_0000000000000000', 'zzzz-zzzz-zzzz', 'never-made', 'bad id', '%E0%A4%A']) {
      for (const path of [`/v2/rooms/${ref}`, `/v2/rooms/validate/${ref}`]) {
        const res = await get(path);
        expect([path, res.status]).toEqual([path, 404]);
      }
    }
    const res = await deactivate('never-made');
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 404, body: { message: 'Room never-made not found', code: 'not_found' } });
  });

  it("keeps every room to its tenant: another tenant's id, roomId or customRoomId is 404 everywhere, and names are per tenant", async () => {
    const room = await create({ customRoomId: 'acme-only' });
    for (const ref of [room.id, room.roomId, 'acme-only']) {
      for (const path of [`/v2/rooms/${ref}`, `/v2/rooms/validate/${ref}`]) expect([path, (await get(path, file.tokens.globex)).status]).toEqual([path, 404]);
      expect([ref, (await deactivate(ref, file.tokens.globex)).status]).toEqual([ref, 404]);
      expect((await json<NumberedList<Room>>(await get(`/v2/rooms?query=${ref}`, file.tokens.globex))).data).toEqual([]);
    }
    const theirs = await json<NumberedList<Room>>(await get('/v2/rooms?perPage=100', file.tokens.globex));
    expect(theirs.data.map((r) => r.id)).not.toContain(room.id);
    // The same customRoomId in another tenant is another room.
    const globex = await create({ customRoomId: 'acme-only' }, file.tokens.globex);
    expect(globex.id).not.toBe(room.id);
    expect(await json(await get('/v2/rooms/acme-only'))).toEqual(room);
    expect((await json<Room>(await get('/v2/rooms/acme-only'))).disabled).toBe(false);
  });

  it('deactivates a room for good by roomId, customRoomId or id: it answers disabled, and again when asked again', async () => {
    const room = await create({ customRoomId: 'closing-time' });
    for (const ref of [room.roomId, 'closing-time', room.id]) {
      const res = await deactivate(ref);
      expect(res.status).toBe(200);
      const disabled = await json<Room>(res);
      expect(disabled).toEqual({ ...room, disabled: true, updatedAt: expect.any(String) });
      expect(disabled.updatedAt > room.updatedAt).toBe(true);
    }
    expect(await json(await get('/v2/rooms/validate/closing-time'))).toMatchObject({ id: room.id, disabled: true });
    for (const body of [{}, { roomId: '' }, { roomId: 7 }, { roomId: 'x', extra: 1 }]) {
      const res = await file.t.api('POST', '/v2/rooms/deactivate', { token: file.tokens.acme, body });
      expect([body, res.status]).toEqual([body, 400]);
    }
    // Creating it again by its customRoomId answers the disabled room: deactivation is final.
    expect(await create({ customRoomId: 'closing-time' })).toMatchObject({ id: room.id, disabled: true });
  });

  it('refuses a routing rule or connector naming a deactivated room (400); any other room id, existing or not, is taken', async () => {
    const room = await create({ customRoomId: 'retired' });
    await deactivate('retired');
    const token = file.tokens.acme;
    const ruleBody = (id: string) => ({ name: 'r', type: 'inbound', room: { type: 'static', id } });
    for (const id of ['retired', room.roomId]) {
      const res = await file.t.api('POST', '/v2/sip/routing-rule', { token, body: ruleBody(id) });
      expect([id, res.status, await res.json()]).toEqual([id, 400, { message: `Invalid request body: room.id: room ${id} is deactivated`, code: 'bad_request', errors: [{ field: 'room.id', message: `room ${id} is deactivated` }] }]);
    }
    const live = await create({ customRoomId: 'still-open' });
    for (const id of ['never-created', 'still-open', live.roomId]) expect([id, (await file.t.api('POST', '/v2/sip/routing-rule', { token, body: ruleBody(id) })).status]).toEqual([id, 201]);
    const rule = await json<{ id: string }>(await file.t.api('POST', '/v2/sip/routing-rule', { token, body: ruleBody('still-open') }));
    expect((await file.t.api('PATCH', `/v2/sip/routing-rule/${rule.id}`, { token, body: { room: { type: 'static', id: 'retired' } } })).status).toBe(400);
    // A rule whose room was deactivated after it was written can still be changed otherwise.
    await deactivate('still-open');
    expect((await file.t.api('PATCH', `/v2/sip/routing-rule/${rule.id}`, { token, body: { name: 'renamed' } })).status).toBe(200);

    const refused = await file.t.api('POST', '/v2/connectors', { token, body: { provider: 'plivo', defaultRoomId: 'retired' } });
    expect({ status: refused.status, errors: (await json<{ errors: unknown }>(refused)).errors }).toEqual({ status: 400, errors: [{ field: 'defaultRoomId', message: 'room retired is deactivated' }] });
    const connector = (await json<{ data: { id: string } }>(await file.t.api('POST', '/v2/connectors', { token, body: { provider: 'plivo', defaultRoomId: 'never-created-either' } }))).data;
    expect((await file.t.api('PATCH', `/v2/connectors/${connector.id}`, { token, body: { defaultRoomId: 'retired' } })).status).toBe(400);
    expect((await file.t.api('PATCH', `/v2/connectors/${connector.id}`, { token, body: { defaultRoomId: 'open-plan' } })).status).toBe(200);
  });
});

describe('rooms joined before anyone created them', () => {
  async function connector(defaultRoomId: string, token = file.tokens.acme): Promise<string> {
    const res = await file.t.api('POST', '/v2/connectors', { token, body: { provider: 'plivo', defaultRoomId } });
    return (await json<{ data: { webhookUrl: string } }>(res)).data.webhookUrl;
  }

  it('are created by the first call routed there: by customRoomId, or by roomId when the name has that shape', async () => {
    const url = await connector('lobby-first-use');
    expect((await get('/v2/rooms/lobby-first-use')).status).toBe(404);
    const call = newCall();
    const answer = await parseAnswer(await plivoRequest(url, answerFields(call)));
    expect(streamOf(answer).url.pathname).toBe('/plivo');
    const room = await json<Room>(await get('/v2/rooms/lobby-first-use'));
    expect(room).toMatchObject({ customRoomId: 'lobby-first-use', roomId: expect.stringMatching(/^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/), disabled: false });
    // A second call finds it: no second room.
    await parseAnswer(await plivoRequest(url, answerFields(newCall())));
    expect((await json<NumberedList<Room>>(await get('/v2/rooms?query=lobby-first-use'))).data).toEqual([room]);

    const shaped = await connector('abcd-1234-wxyz');
    await parseAnswer(await plivoRequest(shaped, answerFields(newCall())));
    expect(await json(await get('/v2/rooms/abcd-1234-wxyz'))).toMatchObject({ roomId: 'abcd-1234-wxyz', customRoomId: null });
  });

  it('are not recorded for a dynamic rule, whose room is per call: no record piles up per call', async () => {
    const token = file.tokens.globex;
    const rule = await json<{ id: string }>(await file.t.api('POST', '/v2/sip/routing-rule', { token, body: { name: 'per call', type: 'inbound', phoneNumbers: ['+14155550777'], room: { type: 'dynamic', prefix: 'random' } } }));
    const url = await connector('unused-dynamic', token);
    const before = (await json<NumberedList<Room>>(await get('/v2/rooms', token))).pageInfo.total;
    const call = newCall({ to: '14155550777' });
    expect(streamOf(await parseAnswer(await plivoRequest(url, answerFields(call)))).url.pathname).toBe('/plivo');
    const record = await json<{ data: { roomId: string; ruleId: string } }>(await get(`/v2/sip/call/${callIdFor(call.callUuid)}`, token));
    expect(record.data).toMatchObject({ ruleId: rule.id, roomId: expect.stringMatching(/^room-/) });
    expect((await json<NumberedList<Room>>(await get('/v2/rooms', token))).pageInfo.total).toBe(before);
  });

  it('route a call by roomId into the room kept under its customRoomId', async () => {
    const room = await create({ customRoomId: 'by-either-name' });
    const url = await connector('unused-default');
    const call = newCall();
    await parseAnswer(await plivoRequest(`${url}?roomId=${room.roomId}`, answerFields(call)));
    const record = await json<{ data: { roomId: string } }>(await get(`/v2/sip/call/${callIdFor(call.callUuid)}`));
    expect(record.data.roomId).toBe('by-either-name');
  });

  it('refuse calls routed to a deactivated room: Hangup, and the call recorded rejected (room-deactivated)', async () => {
    const url = await connector('closed-for-good');
    await create({ customRoomId: 'closed-for-good' });
    await deactivate('closed-for-good');
    const call = newCall();
    const answer = await parseAnswer(await plivoRequest(url, answerFields(call)));
    expect({ status: answer.status, raw: answer.raw }).toEqual({ status: 200, raw: HANGUP });
    const record = await json<{ data: unknown }>(await get(`/v2/sip/call/${callIdFor(call.callUuid)}`));
    expect(record.data).toMatchObject({ status: 'rejected', roomId: null, additionalDetails: { hangupReason: 'room-deactivated' } });
    // By ?roomId too.
    const other = newCall();
    const byQuery = await parseAnswer(await plivoRequest(`${await connector('elsewhere')}?roomId=closed-for-good`, answerFields(other)));
    expect(byQuery.raw).toBe(HANGUP);
  });
});
