import { Frame } from '../../ingest-container/src/audio/frame';
import { mulawEncode } from '../../core/mulaw';
import { RecordingManager } from '../../ingest-container/src/recording/manager';
import { AudioBudget } from '../../ingest-container/src/room/audio-budget';
import type { MediaClock } from '../../ingest-container/src/room/clock';
import { newMediaCounters } from '../../ingest-container/src/metrics';
import { JitterBuffer } from '../../ingest-container/src/room/jitter-buffer';
import { Room, type Participant, type PhoneInfo } from '../../ingest-container/src/room/room';
import { newStats } from '../../ingest-container/src/transport/endpoint';
import { newRecordingId } from '../../core/ids';
import { recordingKey, type Recording, type RecordingEventType } from '../../core/recordings/model';
import { DynamoRecordingStore } from '../../core/recordings/store';
import type { Session } from '../../core/sessions/model';
import type { SampleRate } from '../../core/rooms';
import { waitFor } from '../support/local-process';
import { useRecordingBucket } from '../support/s3';
import { memoryLog } from '../support/stack';
import { startDynaliteBackend, useStoreTable } from '../support/store-backends';

const BUCKET = 'recordings-test';
const TABLE = 'recordings';
const SESSION: Session = { tenant: 'acme', id: 'ss_live', roomId: 'rm_1', customRoomId: 'front-desk', start: new Date().toISOString(), end: null, status: 'ongoing', region: 'us002' };

const s3 = useRecordingBucket(BUCKET);
const db = useStoreTable(startDynaliteBackend, TABLE);
let store: DynamoRecordingStore;
beforeAll(() => {
  store = new DynamoRecordingStore(db.dynamo, TABLE);
});

function member(id: string, rate: SampleRate, phone?: PhoneInfo): Participant {
  return {
    id,
    kind: phone ? 'phone' : 'web',
    rate,
    ...(phone && { phone }),
    input: new JitterBuffer({ startFrames: 1, maxTarget: 1, capacity: 10, adaptive: false, counters: newMediaCounters() }),
    stats: newStats(),
    muted: false,
    deliver: () => undefined,
    notify: () => undefined,
  };
}
const callerFrame = () => Frame.fromMulawBase64(Buffer.from(mulawEncode(new Int16Array(160).fill(3000))).toString('base64'));

/** A manager over real rooms (ticked by the test), the store on dynalite and s3rver; events and call links kept. */
function setup(maxRecordings = 10) {
  const rooms = new Map<string, Room>();
  const events: [RecordingEventType, Recording][] = [];
  const links: string[] = [];
  const failed = { count: 0 };
  const log = memoryLog();
  const manager = new RecordingManager({
    store,
    objects: s3.objects,
    events: { publish: (type, recording) => Promise.resolve(void events.push([type, recording])) },
    calls: { addRecording: (tenant, callId, id) => Promise.resolve(links.push(`${tenant}/${callId}/${id}`) > 0) },
    rooms: { find: (tenant, roomId) => rooms.get(`${tenant}/${roomId}`) },
    sessions: { live: (tenant, roomId) => Promise.resolve(rooms.has(`${tenant}/${roomId}`) ? SESSION : null) },
    region: 'us002',
    awsRegion: 'us-east-1',
    bucket: BUCKET,
    serverId: 'media-test',
    maxRecordings,
    segmentSeconds: 20,
    retentionDays: 1,
    onFailed: () => failed.count++,
    log: log.logger,
  });
  const open = (name: string) => {
    const room: Room = new Room('acme', name, testClock, () => rooms.delete(`acme/${name}`), new AudioBudget(1 << 20), newMediaCounters(), (err) => {
      throw err;
    }, manager.watch('acme', name));
    rooms.set(`acme/${name}`, room);
    return room;
  };
  return { manager, events, links, open, log, failed };
}

/** The test ticks its rooms itself: a clock that runs none (a MediaClock's timer would tick them while the test awaits). */
const testClock = { add: () => undefined, delete: () => undefined } as unknown as MediaClock;

const byKind = (events: [RecordingEventType, Recording][], kind: string) => events.filter(([, r]) => r.kind === kind).map(([type, r]) => `${type} ${r.status}`);

test('a phone that asks to be recorded: its call and its room are recorded; the call ends as it leaves, the room as it closes', async () => {
  const { manager, events, links, open } = setup();
  const room = open('sales');
  const caller = member('phone_1', 8000, { from: '+1', to: '+2', callUuid: 'u1', callId: 'call_1', record: true });
  room.join(caller);
  room.join(member('web_1', 16000));
  await waitFor(() => (manager.count === 2 && events.length === 2 ? true : undefined));
  for (let n = 0; n < 100; n++) {
    caller.input.push(callerFrame());
    room.tick();
  }
  room.leave('phone_1', 'hangup');
  // The room goes on without the caller: 50 silent ticks more for its recording only.
  for (let n = 0; n < 50; n++) room.tick();
  room.leave('web_1', 'left');
  await manager.settled();
  expect(byKind(events, 'call')).toEqual(['recording-started recording', 'recording-stopped completed']);
  expect(byKind(events, 'room')).toEqual(['recording-started recording', 'recording-stopped completed']);
  const [call, mix] = ['call', 'room'].map((kind) => events.find(([type, r]) => r.kind === kind && type === 'recording-stopped')?.[1]) as [Recording, Recording];
  expect(call).toMatchObject({ callId: 'call_1', sessionId: 'ss_live', roomId: 'rm_1', format: { channels: 2, sampleRate: 8000 }, duration: 2, size: 44 + 2 * 8000 * 4 });
  expect(mix).toMatchObject({ callId: null, format: { channels: 1, sampleRate: 16000 }, duration: 3, size: 44 + 3 * 16000 * 2 });
  expect(links).toEqual([`acme/call_1/${call.id}`]);
  expect(await store.get('acme', call.id)).toMatchObject({ status: 'completed', duration: 2 });
});

test('start-recording for a room not live here ends the recording failed, with its event; stop-recording and the drain complete one', async () => {
  const { manager, events, open } = setup();
  const room = open('support');
  const record = (id = newRecordingId()): Recording => ({
    ...SESSION,
    id,
    sessionId: SESSION.id,
    kind: 'room',
    callId: null,
    status: 'recording',
    end: null,
    reason: null,
    format: { format: 'wav', channels: 1, sampleRate: 8000 },
    awsRegion: 'us-east-1',
    bucket: BUCKET,
    key: recordingKey('acme', SESSION.roomId, SESSION.id, id),
    serverId: 'media-test',
    webhookUrl: null,
    size: null,
    duration: null,
  });
  const gone = { ...record(), roomId: 'rm_gone' };
  await store.create(gone, 1);
  manager.command({ type: 'start-recording', id: 'cmd1', tenant: 'acme', at: Date.now(), expiresAtMs: Date.now() + 60_000, roomId: 'elsewhere', recordingId: gone.id });
  await manager.settled();
  expect(events.map(([type, r]) => `${type} ${r.id === gone.id} ${r.reason}`)).toEqual(['recording-failed true the room is not live']);

  room.join(member('web_1', 8000));
  const live = { ...record(), roomId: 'rm_2' };
  await store.create(live, 1);
  manager.command({ type: 'start-recording', id: 'cmd2', tenant: 'acme', at: Date.now(), expiresAtMs: Date.now() + 60_000, roomId: 'support', recordingId: live.id });
  await waitFor(() => (manager.count === 1 ? true : undefined));
  for (let n = 0; n < 50; n++) room.tick();
  manager.command({ type: 'stop-recording', id: 'cmd3', tenant: 'acme', at: Date.now(), expiresAtMs: Date.now() + 60_000, roomId: 'support', recordingId: live.id });
  await manager.settled();
  expect(await store.get('acme', live.id)).toMatchObject({ status: 'completed', duration: 1 });

  const drained = { ...record(), roomId: 'rm_3' };
  await store.create(drained, 1);
  manager.command({ type: 'start-recording', id: 'cmd4', tenant: 'acme', at: Date.now(), expiresAtMs: Date.now() + 60_000, roomId: 'support', recordingId: drained.id });
  await waitFor(() => (manager.count === 1 ? true : undefined));
  for (let n = 0; n < 25; n++) room.tick();
  await manager.stopAll();
  expect(await store.get('acme', drained.id)).toMatchObject({ status: 'completed', duration: 0.5 });
  room.leave('web_1', 'left');
});

test('over MAX_RECORDINGS a recording is refused: it ends failed and says why', async () => {
  const { manager, events, open, failed } = setup(1);
  const room = open('busy');
  room.join(member('phone_1', 8000, { from: '+1', to: '+2', callUuid: 'u1', callId: 'call_2', record: true }));
  await waitFor(() => (events.length === 2 ? true : undefined));
  expect(events.map(([type, r]) => `${type} ${r.kind} ${r.reason}`).sort()).toEqual(['recording-failed room recording limit reached: at most 1 on one media server', 'recording-started call null']);
  expect(failed.count).toBe(1);
  room.leave('phone_1', 'hangup');
  await manager.settled();
});
