import { dynamoClient } from '../../core/aws';
import { overdue } from '../../core/dynamo';
import { newSessionId } from '../../core/ids';
import { createLogger } from '../../core/log';
import { RoomNames, RoomService } from '../../core/room-records/service';
import { roomCommandSender } from '../../core/room-records/closer';
import { DynamoRoomStore } from '../../core/room-records/store';
import type { SessionEvent } from '../../core/sessions/events';
import { SessionService } from '../../core/sessions/service';
import { DynamoSessionStore, sessionsOf } from '../../core/sessions/store';
import { MediaClock } from '../../ingest-container/src/room/clock';
import { JitterBuffer } from '../../ingest-container/src/room/jitter-buffer';
import { RoomRegistry } from '../../ingest-container/src/room/registry';
import type { Participant, PhoneInfo } from '../../ingest-container/src/room/room';
import { SessionRecorder } from '../../ingest-container/src/room/sessions';
import { newStats } from '../../ingest-container/src/transport/endpoint';
import { capacityMeter } from '../support/capacity';
import { memoryLog } from '../support/stack';
import { clientFailingConditionalDeletes, storeBackends, useStoreTable } from '../support/store-backends';
import { newMediaCounters } from '../../ingest-container/src/metrics';

const TABLE = 'sessions';
const LIMITS = { maxQueuedAudioBytes: 1 << 20, maxQueuedAudioBytesPerRoom: 1 << 20 };

function member(id: string, kind: Participant['kind'], phone?: PhoneInfo): Participant {
  return { id, kind, rate: 8000, input: new JitterBuffer({ startFrames: 1, maxTarget: 1, capacity: 10, adaptive: false, counters: newMediaCounters() }), stats: newStats(), muted: false, deliver: () => undefined, notify: () => undefined, ...(phone && { phone }) };
}

/**
 * Session records as the media server holding a room writes them (ingest-container/src/room/sessions.ts over
 * core/sessions/store.ts), on every store backend: one session per occupancy of a room, a timelog entry per stay, its
 * events in order with the records' data, and the sweeper's end of a session a dead server left ongoing.
 */
describe.each(storeBackends)('room sessions on %s', (name, start) => {
  const db = useStoreTable(start, TABLE);
  let store: DynamoSessionStore;
  let roomStore: DynamoRoomStore;
  let rooms: RoomNames;
  const clock = new MediaClock(() => undefined, newMediaCounters());

  beforeAll(() => {
    store = new DynamoSessionStore(db.dynamo, TABLE);
    roomStore = new DynamoRoomStore(db.dynamo, TABLE);
    rooms = new RoomNames(roomStore, createLogger('error'));
  });

  /**
   * A room registry whose rooms are recorded by a recorder whose events go to `events`; it ends a session as the media
   * server does (its members leave) and deactivates a room through RoomService, its minutes lasting `minuteMs`.
   */
  function recorded(events: SessionEvent[], sessions = store, log = createLogger('error'), minuteMs?: number) {
    const service = new RoomService({ rooms: roomStore, closer: { close: () => Promise.resolve() }, allowPrivateTargets: false, log });
    const endSession = (tenant: string, roomName: string) => {
      const live = registry.find(tenant, roomName);
      for (const { id } of live?.participants() ?? []) live?.leave(id, 'session-ended');
    };
    const recorder = new SessionRecorder({
      store: sessions,
      rooms,
      events: { publish: (event) => events.push(event) },
      region: 'us002',
      serverId: 'media-test',
      retentionDays: 30,
      endSession,
      deactivate: (tenant, roomName) => service.deactivate(tenant, roomName),
      ...(minuteMs !== undefined && { minuteMs }),
      log,
    });
    const registry = new RoomRegistry(clock, LIMITS, newMediaCounters(), () => undefined, recorder);
    return { recorder, registry };
  }

  it(`${name}: records a session from its first join to its last leave, a second stay as a second timelog entry, and fires its events in order`, async () => {
    const room = await rooms.create('acme', { roomId: 'sess-ions-0001', customRoomId: 'front-desk' });
    const events: SessionEvent[] = [];
    const { recorder, registry } = recorded(events);
    const live = registry.get('acme', 'front-desk');
    const phone = member('ph_1', 'phone', { from: '+14155550100', to: '+14155550199', callUuid: 'uuid-1', callId: 'call_1' });
    live.join(phone);
    live.join(member('web_1', 'web'));
    await recorder.settled();
    const [session] = (await store.page('acme', { roomId: room.roomId, status: 'ongoing' }, { page: 1, perPage: 10 })).data;
    expect(session).toEqual({ tenant: 'acme', id: expect.stringMatching(/^ss_[0-9a-hjkmnp-tv-z]{29}$/), roomId: room.roomId, customRoomId: 'front-desk', start: expect.any(String), end: null, status: 'ongoing', region: 'us002' });
    const id = session?.id ?? '';
    expect((await store.participants('acme', id, true, { page: 1, perPage: 10 })).data.map((p) => p.participantId)).toEqual(['ph_1', 'web_1']);

    live.leave('ph_1', 'left');
    live.join(phone);
    live.leave('ph_1', 'left');
    live.leave('web_1', 'left');
    await recorder.settled();

    const ended = await store.get('acme', id);
    expect(ended).toMatchObject({ status: 'ended', end: expect.any(String) });
    // Its server ended it: the sweeper has nothing to end.
    expect(await store.endLeftBehind('acme', id, new Date().toISOString())).toBeNull();
    const phoneRecord = await store.participant('acme', id, 'ph_1');
    expect(phoneRecord).toEqual({ participantId: 'ph_1', name: '+14155550100', kind: 'phone', callId: 'call_1', timelog: [{ start: expect.any(String), end: expect.any(String) }, { start: expect.any(String), end: expect.any(String) }] });
    expect(await store.participant('acme', id, 'web_1')).toMatchObject({ name: null, kind: 'web', callId: null, timelog: [{ end: expect.any(String) }] });
    expect((await store.participants('acme', id, true, { page: 1, perPage: 10 })).data).toEqual([]);
    // Nobody left in the due index: a dead server's sweep has nothing of this session to end.
    expect((await overdue(db.dynamo, TABLE, sessionsOf('media-test'), new Date('9999-01-01'), 10)).keys).toEqual([]);

    expect(events.map((e) => [e.type, e.eventId])).toEqual([
      ['session-started', id],
      ['participant-joined', `${id}/ph_1/0`],
      ['participant-joined', `${id}/web_1/0`],
      ['participant-left', `${id}/ph_1/0`],
      ['participant-joined', `${id}/ph_1/1`],
      ['participant-left', `${id}/ph_1/1`],
      ['participant-left', `${id}/web_1/0`],
      ['session-ended', id],
    ]);
    expect(events.every((e) => e.tenant === 'acme' && e.roomName === 'front-desk')).toBe(true);
    expect(events[0]?.data).toEqual({ id, sessionId: id, roomId: room.roomId, customRoomId: 'front-desk', start: session?.start, end: null, status: 'ongoing', region: 'us002' });
    expect(events[7]?.data).toEqual({ ...events[0]?.data, end: ended?.end, status: 'ended' });
    expect(events[5]?.data).toEqual({ ...phoneRecord, sessionId: id, roomId: room.roomId });

    // The room's next occupancy is another session.
    const again = registry.get('acme', 'front-desk');
    again.join(member('web_2', 'web'));
    again.leave('web_2', 'left');
    await recorder.settled();
    const sessions = (await store.page('acme', { customRoomId: 'front-desk' }, { page: 1, perPage: 10 })).data;
    expect(sessions.map((s) => s.status)).toEqual(['ended', 'ended']);
    expect(sessions[1]?.id).toBe(id);
  });

  it(`${name}: autoCloseConfig.duration ends the session that long after its start, as /v2/sessions/end does; the room stays usable`, async () => {
    const room = await rooms.create('acme', { roomId: 'auto-clos-0001', customRoomId: 'timed', autoCloseConfig: { type: 'session-ends', duration: 2 } });
    const log = memoryLog();
    const events: SessionEvent[] = [];
    const { recorder, registry } = recorded(events, store, log.logger, 150);
    const startedMs = Date.now();
    const live = registry.get('acme', 'timed');
    live.join(member('web_1', 'web'));
    live.join(member('web_2', 'web'));
    await recorder.settled();
    expect(live.participants()).toHaveLength(2);
    const deadline = Date.now() + 5_000;
    while (registry.find('acme', 'timed') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const endedMs = Date.now();
    await recorder.settled();
    expect(registry.find('acme', 'timed')).toBeUndefined();
    expect(endedMs - startedMs).toBeGreaterThanOrEqual(290);
    const [session] = (await store.page('acme', { roomId: room.roomId }, { page: 1, perPage: 10 })).data;
    expect(session).toMatchObject({ status: 'ended' });
    expect(events.map((e) => e.type).at(-1)).toBe('session-ended');
    expect(log.lines.filter((line) => line.includes('autoCloseConfig.duration ran out') && line.includes(session?.id ?? '-') && line.includes('acme')).length).toBe(1);
    // `session-ends` does not deactivate: the room is joined again.
    expect((await roomStore.byName('acme', 'timed'))?.disabled).toBe(false);
  });

  it(`${name}: a session-end-and-deactivate room is deactivated as its session ends (its last leave), names first, as /v2/rooms/deactivate does`, async () => {
    const room = await rooms.create('acme', { roomId: 'auto-clos-0002', customRoomId: 'one-shot', autoCloseConfig: { type: 'session-end-and-deactivate' } });
    const log = memoryLog();
    const { recorder, registry } = recorded([], store, log.logger);
    const live = registry.get('acme', 'one-shot');
    live.join(member('web_1', 'web'));
    await recorder.settled();
    expect((await roomStore.named('acme', 'one-shot'))?.disabled).toBe(false);
    live.leave('web_1', 'left');
    await recorder.settled();
    expect(await roomStore.get('acme', room.id)).toMatchObject({ disabled: true });
    expect((await roomStore.named('acme', 'one-shot'))?.disabled).toBe(true);
    expect((await roomStore.named('acme', room.roomId))?.disabled).toBe(true);
    expect(log.lines.filter((line) => line.includes('room deactivated as its session ended') && line.includes('one-shot') && line.includes('ss_')).length).toBe(1);
    // Another tenant's room of the same name is untouched.
    const other = await rooms.create('globex', { roomId: 'auto-clos-0003', customRoomId: 'one-shot' });
    expect((await roomStore.get('globex', other.id))?.disabled).toBe(false);

    // A room this server gives up (it stops, or the room moved away) ends its session here, and stays usable.
    const kept = await rooms.create('acme', { roomId: 'auto-clos-0004', customRoomId: 'given-up', autoCloseConfig: { type: 'session-end-and-deactivate' } });
    const givenUp = registry.get('acme', 'given-up');
    givenUp.join(member('web_2', 'web'));
    await recorder.settled();
    givenUp.abandon();
    givenUp.leave('web_2', 'media server shutting down');
    await recorder.settled();
    expect((await store.page('acme', { roomId: kept.roomId }, { page: 1, perPage: 10 })).data.map((session) => session.status)).toEqual(['ended']);
    expect((await roomStore.get('acme', kept.id))?.disabled).toBe(false);
  });

  it(`${name}: costs a session's first join 1 read and 3 writes, each later join or leave 1 write, its last leave 2 more`, async () => {
    const metered = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: db.endpoint });
    try {
      const measured = capacityMeter(metered);
      const meteredRooms = new RoomNames(new DynamoRoomStore(metered, TABLE), createLogger('error'));
      await meteredRooms.create('acme', { roomId: 'cost-cost-0001', customRoomId: 'costed' });
      const recorder = new SessionRecorder({ store: new DynamoSessionStore(metered, TABLE), rooms: meteredRooms, events: { publish: () => undefined }, region: 'us002', serverId: 'media-cost', retentionDays: 30, endSession: () => undefined, deactivate: () => Promise.resolve(), log: createLogger('error') });
      const live = new RoomRegistry(clock, LIMITS, newMediaCounters(), () => undefined, recorder).get('acme', 'costed');
      const step = async (act: () => void) => {
        const { requests, rcu: units } = await measured(async () => {
          act();
          await recorder.settled();
        });
        return { requests, units };
      };
      // Items under 1 KB: a consistent read of the room's name is 1 read unit, each write 1 write unit; DynamoDB Local
      // (as DynamoDB does) also counts the session's entry in the sparse `due` index, written at its start and removed at
      // its end, which dynalite leaves out. The room's pointer to its live session is put at the start, deleted at the end.
      expect(await step(() => live.join(member('web_1', 'web')))).toEqual({ requests: 4, units: name === 'dynalite' ? 4 : 5 });
      expect(await step(() => live.join(member('ph_2', 'phone', { from: '+14155550100', to: '+14155550199', callUuid: 'uuid-2', callId: 'call_2' })))).toEqual({ requests: 1, units: 1 });
      expect(await step(() => live.leave('ph_2', 'left'))).toEqual({ requests: 1, units: 1 });
      expect(await step(() => live.leave('web_1', 'left'))).toEqual({ requests: 3, units: name === 'dynalite' ? 3 : 4 });
    } finally {
      metered.destroy();
    }
  });

  it(`${name}: a join is never held up or failed by its record: a write that fails is logged`, async () => {
    const log = memoryLog();
    const events: SessionEvent[] = [];
    const { recorder, registry } = recorded(events, new DynamoSessionStore(db.dynamo, 'no-such-table'), log.logger);
    const live = registry.get('acme', 'no-records');
    live.join(member('web_1', 'web'));
    expect(live.participants()).toEqual([{ id: 'web_1', kind: 'web' }]);
    live.leave('web_1', 'left');
    await recorder.settled();
    expect(events).toEqual([]);
    expect(log.lines.filter((line) => line.includes('session record: could not record a participant joining')).length).toBe(1);
  });

  it(`${name}: lists by room, status and start window, newest first, paged; another tenant sees none`, async () => {
    const { recorder, registry } = recorded([]);
    const first = await rooms.create('pager', { roomId: 'page-page-0001', customRoomId: null });
    for (let i = 0; i < 3; i++) {
      const live = registry.get('pager', first.roomId);
      live.join(member(`web_${i}`, 'web'));
      live.leave(`web_${i}`, 'left');
      await recorder.settled();
    }
    const open = registry.get('pager', 'other-room');
    open.join(member('web_x', 'web'));
    await recorder.settled();
    const all = await store.page('pager', {}, { page: 1, perPage: 2 });
    expect(all.pageInfo).toEqual({ currentPage: 1, perPage: 2, lastPage: 2, total: 4 });
    expect(all.data[0]).toMatchObject({ customRoomId: 'other-room', status: 'ongoing' });
    const byRoom = (await store.page('pager', { roomId: first.roomId }, { page: 1, perPage: 10 })).data;
    expect(byRoom.map((s) => s.status)).toEqual(['ended', 'ended', 'ended']);
    expect(byRoom.map((s) => s.start)).toEqual([...byRoom.map((s) => s.start)].sort().reverse());
    const [newest, middle, oldest] = byRoom as [typeof byRoom[number], typeof byRoom[number], typeof byRoom[number]];
    const window = (await store.page('pager', { roomId: first.roomId, startDate: middle.start, endDate: middle.start }, { page: 1, perPage: 10 })).data;
    expect(window.map((s) => s.id)).toEqual([middle.id]);
    expect((await store.page('pager', { startDate: newest.start }, { page: 1, perPage: 10 })).data.map((s) => s.id)).toContain(newest.id);
    expect((await store.page('pager', { endDate: oldest.start, roomId: first.roomId }, { page: 1, perPage: 10 })).data.map((s) => s.id)).toEqual([oldest.id]);
    expect((await store.page('pager', { status: 'ongoing' }, { page: 1, perPage: 10 })).data).toHaveLength(1);
    expect((await store.page('someone-else', {}, { page: 1, perPage: 10 })).data).toEqual([]);
    expect(await store.get('someone-else', newest.id)).toBeNull();
    open.leave('web_x', 'left');
    await recorder.settled();
  });

  it(`${name}: a session its server left ongoing is ended with its participants' open stays closed, the same on a retry, until forgotten`, async () => {
    const { recorder, registry } = recorded([]);
    const live = registry.get('acme', 'orphaned');
    live.join(member('web_1', 'web'));
    live.join(member('web_2', 'web'));
    live.join(member('web_3', 'web'));
    live.leave('web_2', 'left');
    live.leave('web_3', 'left');
    live.join(member('web_3', 'web'));
    await recorder.settled();
    // The server dies here: nothing more is written. The sweeper finds the session under the server.
    const listed = async () => (await overdue(db.dynamo, TABLE, sessionsOf('media-test'), new Date('9999-01-01'), 10)).keys;
    expect(await listed()).toHaveLength(1);
    const [session] = (await store.page('acme', { customRoomId: 'orphaned' }, { page: 1, perPage: 1 })).data;
    const id = session?.id ?? '';
    expect(await store.live('acme', session?.roomId ?? '')).toEqual(session);
    const at = new Date().toISOString();
    const leftBehind = await store.endLeftBehind('acme', id, at);
    expect(await store.live('acme', session?.roomId ?? '')).toBeNull();
    expect(leftBehind?.session).toEqual({ ...session, status: 'ended', end: at });
    expect(leftBehind?.left.map(({ participant, entry }) => [participant.participantId, entry, participant.timelog[entry]?.end])).toEqual([
      ['web_1', 0, at],
      ['web_3', 1, at],
    ]);
    expect(leftBehind?.left.map(({ participant }) => participant)).toEqual([await store.participant('acme', id, 'web_1'), await store.participant('acme', id, 'web_3')]);
    expect((await store.participant('acme', id, 'web_2'))?.timelog[0]?.end).not.toBe(at);
    // A sweep that failed or died before forgetting it finds it again: the same end, the same stays, nothing written twice.
    expect(await listed()).toHaveLength(1);
    expect(await store.endLeftBehind('acme', id, new Date(Date.parse(at) + 60_000).toISOString())).toEqual(leftBehind);
    await store.forgetLeftBehind('acme', id);
    expect(await listed()).toEqual([]);
    expect(await store.endLeftBehind('acme', id, at)).toBeNull();
    // Were the server alive after all, its late writes change nothing: the stay and the session have their end.
    live.leave('web_1', 'left');
    live.leave('web_3', 'left');
    await recorder.settled();
    expect(await store.get('acme', id)).toMatchObject({ status: 'ended', end: at });
    expect((await store.participant('acme', id, 'web_1'))?.timelog[0]?.end).toBe(at);
  });

  it(`${name}: finds a room's live session past the listing's read limit, and only while it is live`, async () => {
    // A listing reads at most `readLimit` of the tenant's newest sessions before it filters: 3 here, as 1,000 in service.
    const capped = new DynamoSessionStore(db.dynamo, TABLE, 3);
    const startMs = Date.now();
    const session = (roomId: string, i: number) => {
      const start = new Date(startMs + i).toISOString();
      return { tenant: 'busy', id: newSessionId(Date.parse(start)), roomId, customRoomId: null, start, end: null, status: 'ongoing' as const, region: 'us002' };
    };
    const long = session('long-live-0001', 0);
    await capped.start(long, 'media-busy', 30);
    for (let i = 1; i <= 5; i++) await capped.start(session(`othr-room-000${i}`, i), 'media-busy', 30);
    expect((await capped.page('busy', { roomId: long.roomId, status: 'ongoing' }, { page: 1, perPage: 1 })).data).toEqual([]);
    expect(await capped.live('busy', long.roomId)).toEqual(long);
    expect(await capped.live('someone-else', long.roomId)).toBeNull();
    // Its server ends it: the room has no live session.
    await capped.end('busy', long.id, new Date().toISOString());
    expect(await capped.live('busy', long.roomId)).toBeNull();
    // A newer session of the room points it elsewhere: ending an older one left behind leaves the pointer to the newer.
    const older = session('twice-live-01', 10);
    const newer = session('twice-live-01', 11);
    await capped.start(older, 'media-dead', 30);
    await capped.start(newer, 'media-busy', 30);
    await capped.endLeftBehind('busy', older.id, new Date().toISOString());
    expect(await capped.live('busy', newer.roomId)).toEqual(newer);
    // A pointer whose removal fails is let be: the session still ends (its event fires), and the room reads as not live.
    const failing = clientFailingConditionalDeletes(db.endpoint);
    try {
      expect(await new DynamoSessionStore(failing, TABLE).end('busy', newer.id, new Date().toISOString())).toMatchObject({ id: newer.id, status: 'ended' });
      expect(await capped.live('busy', newer.roomId)).toBeNull();
    } finally {
      failing.destroy();
    }
  });

  it(`${name}: removing a participant of a room no media server holds answers 404, as nothing would remove it`, async () => {
    const roomStore = new DynamoRoomStore(db.dynamo, TABLE);
    const room = await rooms.create('acme', { roomId: 'dead-serv-0001', customRoomId: null });
    const log = memoryLog();
    // The room's region table (here the same one) holds no placement of it: its server died before the sweep.
    const commands = roomCommandSender({ mediaRegions: [{ id: 'us002', ingestUrl: 'ws://127.0.0.1:1', claimsTable: TABLE, recordingsBucket: 'recordings' }], aws: { region: 'us-east-1', dynamodbEndpoint: db.endpoint } }, db.dynamo, log.logger);
    const service = new SessionService({ sessions: store, rooms: roomStore, commands, log: log.logger });
    const start = new Date().toISOString();
    const session = { tenant: 'acme', id: newSessionId(Date.parse(start)), roomId: room.roomId, customRoomId: null, start, end: null, status: 'ongoing' as const, region: 'us002' };
    await store.start(session, 'media-dead', 30);
    await store.joined('acme', session.id, { participantId: 'web_1', kind: 'web', name: null, callId: null }, start, 30);
    for (const input of [{ roomId: room.roomId, participantId: 'web_1' }, { sessionId: session.id, participantId: 'web_1' }]) {
      await expect(service.removeParticipant('acme', input)).rejects.toMatchObject({ status: 404, message: expect.stringContaining('no media server holds') });
    }
    expect(log.lines.filter((line) => line.includes('participant removal asked of a room no media server holds'))).toHaveLength(2);
  });
});
