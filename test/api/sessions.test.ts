import { RoomPeer } from '../../tools/room-peer';
import { waitFor } from '../support/local-process';
import { json, stackForFile, type NumberedList } from '../support/stack';

const file = stackForFile('acme', 'globex');

interface Session {
  id: string;
  roomId: string;
  customRoomId: string | null;
  start: string;
  end: string | null;
  status: 'ongoing' | 'ended';
  region: string;
}
interface Participant {
  participantId: string;
  name: string | null;
  kind: string;
  callId: string | null;
  timelog: { start: string; end: string | null }[];
}
interface Participants {
  data: { participants: Participant[] };
  pageInfo: NumberedList<unknown>['pageInfo'];
}

const get = (path: string, token = file.tokens.acme) => file.t.api('GET', path, { token });
const post = (path: string, body: unknown, token = file.tokens.acme) => file.t.api('POST', path, { token, body });
const join = (roomId: string, token = file.tokens.acme) => RoomPeer.join(file.t.stack.mediaUrl, roomId, { token, sampleRate: 8000 });

/** The room's sessions as the API lists them once `probe` holds of them (the media server writes them off the join). */
async function sessionsOf(customRoomId: string, probe: (sessions: Session[]) => boolean, token = file.tokens.acme): Promise<Session[]> {
  return waitFor(async () => {
    const { data } = await json<NumberedList<Session>>(await get(`/v2/sessions?customRoomId=${customRoomId}&perPage=100`, token));
    return probe(data) ? data : undefined;
  });
}

const participantsOf = async (path: string, token = file.tokens.acme) => json<Participants>(await get(path, token));

describe('sessions API', () => {
  it('answers a live session, its participants and those in the room now, and a participant, in their shapes; ends it when the last leaves', async () => {
    const room = await json<{ roomId: string }>(await post('/v2/rooms', { customRoomId: 'huddle' }));
    const first = await join('huddle');
    const second = await join('huddle');
    const [firstId, secondId] = [(await first.next('joined')).participantId as string, (await second.next('joined')).participantId as string];
    const [session] = await sessionsOf('huddle', (s) => s.length === 1);
    expect(session).toEqual({ id: expect.stringMatching(/^ss_[0-9a-hjkmnp-tv-z]{29}$/), roomId: room.roomId, customRoomId: 'huddle', start: expect.any(String), end: null, status: 'ongoing', region: 'us002' });
    const id = session?.id ?? '';
    expect(await json(await get(`/v2/sessions/${id}`))).toEqual(session);
    const stay = { start: expect.any(String), end: null };
    const all = await waitFor(async () => {
      const listed = await participantsOf(`/v2/sessions/${id}/participants`);
      return listed.data.participants.length === 2 ? listed : undefined;
    });
    expect(all).toEqual({
      data: { participants: [firstId, secondId].sort().map((participantId) => ({ participantId, name: null, kind: 'web', callId: null, timelog: [stay] })) },
      pageInfo: { currentPage: 1, perPage: 10, lastPage: 1, total: 2 },
    });

    await second.close();
    const active = await waitFor(async () => {
      const listed = await participantsOf(`/v2/sessions/${id}/participants/active`);
      return listed.data.participants.length === 1 ? listed : undefined;
    });
    expect(active.data.participants.map((p) => p.participantId)).toEqual([firstId]);
    expect(await json(await get(`/v2/sessions/${id}/participants/${secondId}`))).toEqual({ participantId: secondId, name: null, kind: 'web', callId: null, timelog: [{ start: expect.any(String), end: expect.any(String) }] });
    const paged = await participantsOf(`/v2/sessions/${id}/participants?perPage=1&page=2`);
    expect(paged.pageInfo).toEqual({ currentPage: 2, perPage: 1, lastPage: 2, total: 2 });
    expect(paged.data.participants).toHaveLength(1);

    await first.close();
    const [ended] = await sessionsOf('huddle', (s) => s[0]?.status === 'ended');
    expect(ended).toEqual({ ...session, status: 'ended', end: expect.any(String) });
    expect(Date.parse(ended?.end ?? '')).toBeGreaterThanOrEqual(Date.parse(ended?.start ?? ''));
    expect((await participantsOf(`/v2/sessions/${id}/participants/active`)).data.participants).toEqual([]);
  });

  it("keeps sessions to their tenant: another tenant's session, participants or participant is 404, its listing empty", async () => {
    const peer = await join('private-room');
    const participantId = (await peer.next('joined')).participantId as string;
    const [session] = await sessionsOf('private-room', (s) => s.length === 1);
    const id = session?.id ?? '';
    await waitFor(async () => ((await get(`/v2/sessions/${id}/participants/${participantId}`)).status === 200 ? true : undefined));
    for (const path of [`/v2/sessions/${id}`, `/v2/sessions/${id}/participants`, `/v2/sessions/${id}/participants/active`, `/v2/sessions/${id}/participants/${participantId}`]) {
      const res = await get(path, file.tokens.globex);
      expect([path, res.status, await res.json()]).toEqual([path, 404, { message: `Session ${id} not found`, code: 'not_found' }]);
    }
    expect((await json<NumberedList<Session>>(await get('/v2/sessions', file.tokens.globex))).data).toEqual([]);
    for (const [path, body] of [
      ['/v2/sessions/end', { roomId: 'private-room' }],
      ['/v2/sessions/participants/remove', { sessionId: id, participantId }],
      ['/v2/sessions/participants/remove', { roomId: 'private-room', participantId }],
    ] as const) expect([path, (await post(path, body, file.tokens.globex)).status]).toEqual([path, 404]);
    expect(peer.closeCode).toBeNull();
    await peer.close();
  });

  it('answers 404 with {message, code} for unknown sessions and participants, and 400 for bad queries and bodies', async () => {
    const unknown = 'ss_00000000000000000000000000000';
    for (const [path, message] of [
      [`/v2/sessions/${unknown}`, `Session ${unknown} not found`],
      ['/v2/sessions/not-an-id', 'Session not-an-id not found'],
      [`/v2/sessions/${unknown}/participants`, `Session ${unknown} not found`],
      [`/v2/sessions/${unknown}/participants/web_1`, `Session ${unknown} not found`],
    ] as const) {
      const res = await get(path);
      expect([path, res.status, await res.json()]).toEqual([path, 404, { message, code: 'not_found' }]);
    }
    for (const bad of ['status=live', 'startDate=yesterday', 'startDate=2&endDate=1', 'perPage=101', 'roomId=a%20b', 'cursor=x']) {
      const res = await get(`/v2/sessions?${bad}`);
      expect([bad, res.status, (await json<{ code: string }>(res)).code]).toEqual([bad, 400, 'bad_request']);
    }
    for (const [path, body] of [
      ['/v2/sessions/end', {}],
      ['/v2/sessions/end', { roomId: 'a b' }],
      ['/v2/sessions/participants/remove', { participantId: 'web_1' }],
      ['/v2/sessions/participants/remove', { roomId: 'x', sessionId: unknown, participantId: 'web_1' }],
      ['/v2/sessions/participants/remove', { roomId: 'x' }],
    ] as const) {
      const res = await post(path, body);
      expect([path, body, res.status]).toEqual([path, body, 400]);
    }
    expect(await json(await post('/v2/sessions/end', { roomId: 'never-made' }))).toEqual({ message: 'Room never-made not found', code: 'not_found' });
    await post('/v2/rooms', { customRoomId: 'empty-room' });
    expect(await json(await post('/v2/sessions/end', { roomId: 'empty-room' }))).toEqual({ message: 'Room empty-room has no live session', code: 'not_found' });
  });

  it('pages sessions newest first and filters them by roomId, customRoomId, status and start window', async () => {
    const token = await file.t.token('session-pager');
    const room = await json<{ roomId: string }>(await post('/v2/rooms', { customRoomId: 'pager-room' }, token));
    for (let i = 0; i < 3; i++) {
      const peer = await join('pager-room', token);
      await sessionsOf('pager-room', (s) => s.length === i + 1, token);
      await peer.close();
      await sessionsOf('pager-room', (s) => s[0]?.status === 'ended', token);
    }
    const live = await join('other-room', token);
    const list = async (query: string) => json<NumberedList<Session>>(await get(`/v2/sessions?${query}`, token));
    await waitFor(async () => ((await list('status=ongoing')).data.length === 1 ? true : undefined));
    const pages = [await list('perPage=2'), await list('perPage=2&page=2')];
    expect(pages.map((p) => p.pageInfo)).toEqual([1, 2].map((currentPage) => ({ currentPage, perPage: 2, lastPage: 2, total: 4 })));
    const everyOne = pages.flatMap((p) => p.data);
    expect(everyOne.map((s) => s.start)).toEqual([...everyOne.map((s) => s.start)].sort().reverse());
    expect(everyOne[0]).toMatchObject({ customRoomId: 'other-room', status: 'ongoing' });
    const mine = (await list(`roomId=${room.roomId}`)).data;
    expect(mine.map((s) => s.customRoomId)).toEqual(['pager-room', 'pager-room', 'pager-room']);
    expect((await list('customRoomId=pager-room&status=ended')).data).toEqual(mine);
    expect((await list('status=ongoing')).data.map((s) => s.customRoomId)).toEqual(['other-room']);
    const middle = mine[1] as Session;
    const ms = Date.parse(middle.start);
    expect((await list(`startDate=${ms}&endDate=${ms}`)).data.map((s) => s.id)).toEqual([middle.id]);
    expect((await list(`roomId=${room.roomId}&endDate=${ms}`)).data.map((s) => s.id)).toEqual(mine.slice(1).map((s) => s.id));
    expect((await list(`roomId=${room.roomId}&startDate=${ms + 1}`)).data.map((s) => s.id)).toEqual([mine[0]?.id]);
    await live.close();
  });

  it('ends a live session: its participants are closed with 4411, the session answers ended, and the room may be joined again', async () => {
    const first = await join('ending');
    const second = await join('ending');
    await second.next('joined');
    const [session] = await sessionsOf('ending', (s) => s.length === 1);
    const res = await post('/v2/sessions/end', { roomId: 'ending' });
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: { ...session, status: 'ended', end: expect.any(String) } });
    await waitFor(() => (first.closeCode !== null && second.closeCode !== null ? true : undefined));
    expect([first.closeCode, second.closeCode]).toEqual([4411, 4411]);
    const again = await join('ending');
    await again.next('joined');
    const sessions = await sessionsOf('ending', (s) => s.length === 2);
    expect(sessions.map((s) => s.status)).toEqual(['ongoing', 'ended']);
    await again.close();
  });

  it('removes a web participant by roomId or sessionId: closed with 4001, the others stay; one not in the room is 404', async () => {
    const [a, b, c] = [await join('removals'), await join('removals'), await join('removals')];
    const [aId, bId] = [(await a.next('joined')).participantId as string, (await b.next('joined')).participantId as string];
    await c.next('joined');
    const [session] = await sessionsOf('removals', (s) => s.length === 1);
    const id = session?.id ?? '';
    await waitFor(async () => ((await participantsOf(`/v2/sessions/${id}/participants/active`)).data.participants.length === 3 ? true : undefined));
    const removed = await post('/v2/sessions/participants/remove', { roomId: 'removals', participantId: aId });
    expect({ status: removed.status, body: await removed.json() }).toEqual({ status: 200, body: { message: 'Participant removed' } });
    await waitFor(() => (a.closeCode !== null ? true : undefined));
    expect(a.closeCode).toBe(4001);
    expect(await b.next('participant-left', (m) => m.participantId === aId)).toMatchObject({ reason: 'removed' });
    expect((await post('/v2/sessions/participants/remove', { sessionId: id, participantId: bId })).status).toBe(200);
    await waitFor(() => (b.closeCode !== null ? true : undefined));
    expect(b.closeCode).toBe(4001);
    await waitFor(async () => ((await participantsOf(`/v2/sessions/${id}/participants/active`)).data.participants.length === 1 ? true : undefined));
    for (const body of [{ sessionId: id, participantId: aId }, { roomId: 'removals', participantId: 'web_nobody' }]) {
      const res = await post('/v2/sessions/participants/remove', body);
      expect({ status: res.status, code: (await json<{ code: string }>(res)).code }).toEqual({ status: 404, code: 'not_found' });
    }
    expect(c.closeCode).toBeNull();
    await c.close();
  });
});
