import { tone, toneLevel } from '../../tools/audio';
import { RoomPeer } from '../../tools/room-peer';
import { apiRequest, localProcessPerFile, tenantToken, waitFor } from '../support/local-process';
import { mediaServers } from '../support/media-servers';
import { startReceiver } from '../support/webhook-receiver';

/**
 * Recordings through `npm start` with two media servers: a call its routing rule records (two channels: the caller
 * left, what it heard right, on the room's clock) with its room's mix; a room recorded by API, with the start/stop
 * edges; and a recording whose media server is killed, ended `partial` by the sweeper with the segments that reached
 * the bucket. The files are downloaded from their presigned URLs and decoded here. Segments of SEGMENT_SECONDS (not
 * the default 20): each recording here spans several (mu-law at 8 kHz, assembled into PCM16), and the killed server's
 * loses a short one.
 */
const SEGMENT_SECONDS = 4;
const local = localProcessPerFile('e2e-recordings-', { MEDIA_SERVERS: '2', PLACEMENT_LEASE_SECONDS: '3', SWEEP_INTERVAL_SECONDS: '1', RECORDING_SEGMENT_SECONDS: String(SEGMENT_SECONDS) });
const { api, server, callOn } = mediaServers(() => local.stack);

interface Recording {
  id: string;
  kind: 'room' | 'call';
  status: string;
  callId: string | null;
  sessionId: string;
  start: string;
  end: string | null;
  reason: string | null;
  file: { fileUrl: string | null; size: number | null; duration: number | null; format: string; channels: number; sampleRate: number };
}

const FRAME = 160;
const join = (i: number, roomId: string) => RoomPeer.join(server(i).url, roomId, { token: local.stack.info.token, sampleRate: 8000 });
const recordingsOf = async (roomId: string) => (await api('GET', `/v2/recordings?roomId=${roomId}&perPage=100`)).body.data as Recording[];
const recording = async (id: string) => (await api('GET', `/v2/recordings/${id}`)).body as unknown as Recording;
/** The recording once it has ended (any status but `recording`). */
const ended = (id: string, timeoutMs = 10_000) => waitFor(async () => ((await recording(id)).status !== 'recording' ? recording(id) : undefined), timeoutMs);

/** A WAV this connector wrote (the canonical 44-byte header), downloaded by its presigned URL: one Int16Array per channel. */
async function download(view: Recording): Promise<{ channels: Int16Array[]; rate: number }> {
  expect(view.file.fileUrl).toEqual(expect.any(String));
  const response = await fetch(view.file.fileUrl as string);
  expect(response.status).toBe(200);
  const wav = Buffer.from(await response.arrayBuffer());
  expect(wav.length).toBe(view.file.size);
  expect(wav.toString('ascii', 0, 4) + wav.toString('ascii', 8, 12)).toBe('RIFFWAVE');
  const count = wav.readUInt16LE(22);
  const samples = (wav.length - 44) / 2 / count;
  const channels = Array.from({ length: count }, () => new Int16Array(samples));
  for (let i = 0; i < samples; i++) for (let c = 0; c < count; c++) (channels[c] as Int16Array)[i] = wav.readInt16LE(44 + (i * count + c) * 2);
  return { channels, rate: wav.readUInt32LE(24) };
}

/** The 20 ms frames (from the start) in which `hz` is clearly present. */
function framesWith(pcm: Int16Array, hz: number): number[] {
  const found: number[] = [];
  for (let f = 0; (f + 1) * FRAME <= pcm.length; f++) if (toneLevel(pcm.subarray(f * FRAME, (f + 1) * FRAME), hz) > 2000) found.push(f);
  return found;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts recording the room by API with a webhook of its own, and waits for its `recording-started`: the media server
 * holding the room takes the command within its poll (a second), and only then does its audio begin.
 */
async function startRecording(roomId: string): Promise<{ started: Record<string, unknown>; events: () => { webhookType: string; data: Recording }[]; close(): Promise<void> }> {
  const hook = await startReceiver();
  const started = await waitFor(async () => {
    const res = await api('POST', '/v2/recordings/start', { roomId, webhookUrl: hook.url });
    return res.status === 200 ? res.body : undefined;
  });
  const events = () => hook.received.map((r) => r.payload as unknown as { webhookType: string; data: Recording });
  await waitFor(() => (events().some((e) => e.webhookType === 'recording-started') ? true : undefined));
  return { started, events, close: () => hook.close() };
}

it("records a call its rule records, caller left and what it heard right at the same frames, with the room's mix; ends each as it leaves", async () => {
  const rule = await api('POST', '/v2/sip/routing-rule', { name: 'recorded', type: 'inbound', room: { type: 'static', id: 'rec-call-room' }, recording: true });
  expect(rule.status).toBe(201);
  const connector = await api('POST', '/v2/connectors', { provider: 'plivo', defaultRuleId: rule.body.id });
  // Both on the server holding the room, so that audio sent at one moment reaches the room at one tick (a relayed
  // member's arrives a hop later: the killed-server test below records one).
  const peer = await join(0, 'rec-call-room');
  const call = await callOn(connector.data.webhookUrl as string, 0, '14155550177');
  const [callRec, roomRec] = await waitFor(async () => {
    const found = await recordingsOf('rec-call-room');
    const byKind = (kind: string) => found.find((r) => r.kind === kind && r.status === 'recording');
    return byKind('call') && byKind('room') ? [byKind('call') as Recording, byKind('room') as Recording] : undefined;
  });
  expect(callRec.file).toMatchObject({ format: 'wav', channels: 2, sampleRate: 8000, fileUrl: null });
  expect(roomRec.file).toMatchObject({ format: 'wav', channels: 1, sampleRate: 8000 });

  // Both talk at once for a second; after a pause the room alone, half a second.
  const playedAt = Date.now();
  await Promise.all([call.play(tone(600, 1)), peer.play(tone(1400, 1))]);
  await pause(400);
  await peer.play(tone(1000, 0.5));
  await pause(300);
  await call.hangup();
  const callView = await ended(callRec.id);
  expect(callView).toMatchObject({ status: 'completed', callId: expect.stringMatching(/^call_/), end: expect.any(String) });
  const { channels: [left, right], rate } = await download(callView);
  expect(rate).toBe(8000);
  // Duration: the WAV's length, and its record's start to end (the room's clock skips ticks it falls over 100 ms behind).
  expect(callView.file.duration).toBeCloseTo((left as Int16Array).length / 8000, 3);
  expect(Math.abs((callView.file.duration as number) * 1000 - (Date.parse(callView.end as string) - Date.parse(callView.start)))).toBeLessThanOrEqual(200);
  const said = framesWith(left as Int16Array, 600);
  const heard = framesWith(right as Int16Array, 1400);
  const later = framesWith(right as Int16Array, 1000);
  // Each tone is there a second (half), whole: 50 frames (25), a frame either way for the tone's edges, and on a loaded
  // machine a frame or two a jitter buffer trims to stay in time.
  expect(said.length).toBeGreaterThanOrEqual(46);
  expect(said.length).toBeLessThanOrEqual(51);
  expect(heard.length).toBeGreaterThanOrEqual(46);
  expect(later.length).toBeGreaterThanOrEqual(23);
  // Played at the same moment, recorded a frame apart (within one), on the room's clock: a web member's jitter buffer
  // starts a frame deeper than a caller's (2 frames, 1); one more when a loaded machine makes either buffer grow a
  // frame. Never in the other channel.
  expect(Math.abs((heard[0] as number) - (said[0] as number) - 1)).toBeLessThanOrEqual(2);
  expect(later[0] as number).toBeGreaterThan((heard.at(-1) as number) + 10);
  // And where the recording's clock says: its start plus the caller's jitter buffer, give or take a loaded machine.
  const expected = (playedAt - Date.parse(callView.start)) / 20 + 1;
  expect(Math.abs((said[0] as number) - expected)).toBeLessThanOrEqual(10);
  expect(framesWith(left as Int16Array, 1400)).toEqual([]);
  expect(framesWith(right as Int16Array, 600)).toEqual([]);
  // The call names its recordings.
  const { body: callBody } = await api('GET', `/v2/sip/call/${callView.callId}`);
  expect(((callBody.data as { additionalDetails: { recordings?: string[] } }).additionalDetails.recordings ?? []).includes(callRec.id)).toBe(true);

  // The room's recording goes on while the peer stays, and ends with the room.
  expect((await recording(roomRec.id)).status).toBe('recording');
  await peer.close();
  const roomView = await ended(roomRec.id);
  expect(roomView.status).toBe('completed');
  const { channels: [mix] } = await download(roomView);
  for (const hz of [600, 1400, 1000]) expect(framesWith(mix as Int16Array, hz).length).toBeGreaterThanOrEqual(23);
  // The two recordings started on the same clock: the caller's tone sits as far into each as their starts differ.
  const offsetFrames = Math.round((Date.parse(callView.start) - Date.parse(roomView.start)) / 20);
  expect(Math.abs((framesWith(mix as Int16Array, 600)[0] as number) - ((said[0] as number) + offsetFrames))).toBeLessThanOrEqual(2);
}, 40_000);

it('records a room by API: 409 with no live session and while recording, ends by API, starts again; deleted, gone; other tenants see nothing', async () => {
  expect((await api('POST', '/v2/rooms', { customRoomId: 'rec-api-room' })).status).toBe(201);
  expect((await api('POST', '/v2/recordings/start', { roomId: 'rec-api-room' })).status).toBe(409);
  const peer = await join(1, 'rec-api-room');
  const { started, events, close } = await startRecording('rec-api-room');
  expect(started).toEqual({ recordingId: expect.stringMatching(/^rec_/), roomId: expect.any(String), sessionId: expect.stringMatching(/^ss_/), status: 'recording' });
  expect((await api('POST', '/v2/recordings/start', { roomId: 'rec-api-room' })).status).toBe(409);
  await peer.play(tone(800, 1));
  const stopped = await api('POST', '/v2/recordings/end', { roomId: 'rec-api-room' });
  expect(stopped.status).toBe(200);
  const view = await ended(started.recordingId as string);
  expect(view).toMatchObject({ kind: 'room', status: 'completed', callId: null });
  const { channels: [mix] } = await download(view);
  expect(framesWith(mix as Int16Array, 800).length).toBeGreaterThanOrEqual(48);
  expect((await api('POST', '/v2/recordings/end', { roomId: 'rec-api-room' })).status).toBe(404);
  // Its own webhook was told both ends, in order, the recording as the API shows it but for the URL.
  await waitFor(() => (events().length === 2 ? true : undefined));
  expect(events().map((e) => e.webhookType)).toEqual(['recording-started', 'recording-stopped']);
  expect(events()[1]?.data).toEqual({ ...view, file: { ...view.file, fileUrl: null } });
  await close();

  // Another tenant's token: nothing of this tenant's exists for it.
  const other = await tenantToken(local.dataDir, 'rec-other');
  expect((await apiRequest(local.stack, 'GET', `/v2/recordings/${view.id}`, undefined, other)).status).toBe(404);
  expect((await apiRequest(local.stack, 'DELETE', `/v2/recordings/${view.id}`, undefined, other)).status).toBe(404);
  expect((await apiRequest(local.stack, 'GET', '/v2/recordings?perPage=100', undefined, other)).body.data).toEqual([]);

  // While the room is live a new recording may start; the ended one is deleted with its file.
  const again = await startRecording('rec-api-room');
  const againId = again.started.recordingId as string;
  expect((await api('DELETE', `/v2/recordings/${againId}`)).status).toBe(409);
  expect((await api('DELETE', `/v2/recordings/${view.id}`)).status).toBe(200);
  expect((await api('GET', `/v2/recordings/${view.id}`)).status).toBe(404);
  expect((await fetch(view.file.fileUrl as string)).status).toBe(404);
  // The session's end ends it.
  await peer.close();
  expect((await ended(againId)).status).toBe('completed');
  await again.close();
}, 40_000);

it('ends a recording whose media server was killed as partial, holding the audio its segments carried', async () => {
  expect((await api('POST', '/v2/rooms', { customRoomId: 'rec-dead-room' })).status).toBe(201);
  const holder = await join(0, 'rec-dead-room');
  const speaker = await join(1, 'rec-dead-room');
  const { started, close } = await startRecording('rec-dead-room');
  const begun = await recording(started.recordingId as string);
  // 9 s of tone: its first two segments (2-4 s, a random 50-100 % of a segment, then 4 s) are up, the third not; then the
  // server holding the room dies without a word.
  await speaker.play(tone(700, 9));
  const killedAt = Date.now();
  process.kill(server(0).pid, 'SIGKILL');
  const view = await ended(started.recordingId as string, 20_000);
  expect(view).toMatchObject({ status: 'partial', reason: 'media server stopped' });
  const { channels: [mix] } = await download(view);
  const seconds = (mix as Int16Array).length / 8000;
  // What reached the bucket: its segments up to one before the kill, nothing after it; lost, at most the segment in
  // progress and its upload (under the 30 s bound whatever RECORDING_SEGMENT_SECONDS, 25 at most, says).
  const recordedFor = (killedAt - Date.parse(begun.start)) / 1000;
  expect(seconds).toBeGreaterThanOrEqual(SEGMENT_SECONDS * 1.5);
  expect(seconds).toBeLessThanOrEqual(recordedFor + 0.1);
  expect(recordedFor - seconds).toBeLessThanOrEqual(SEGMENT_SECONDS + 1);
  // The tone from when its `recording-started` reached this test (its delivery takes a moment) to the end of the file.
  expect(framesWith(mix as Int16Array, 700).length).toBeGreaterThanOrEqual(Math.floor(seconds * 50) - 50);
  await Promise.all([holder.close(), speaker.close(), close()]);
}, 60_000);
