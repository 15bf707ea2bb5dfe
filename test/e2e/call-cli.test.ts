import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WaveFile } from 'wavefile';
import { tone, toneLevel } from '../../tools/audio';
import { RoomPeer } from '../../tools/room-peer';
import { apiRequest, NODE_TSX, ROOT, localProcessPerFile, waitFor } from '../support/local-process';

/** `npm run call` as a user runs it, against `npm start`'s real process, with a room participant listening. */
const local = localProcessPerFile('e2e-call-');

const run = (args: string[]) =>
  promisify(execFile)(NODE_TSX[0], [...NODE_TSX.slice(1), 'tools/call.ts', ...args], { cwd: ROOT, env: { ...process.env, DATA_DIR: local.dataDir } });

it('plays a WAV into the demo room, records what it heard, presses DTMF and prints a summary', async () => {
  // A 44.1 kHz stereo WAV: the CLI converts it to 8 kHz mono.
  const input = new WaveFile();
  const left = tone(500, 2, 8000, 44100);
  input.fromScratch(2, 44100, '16', [left, left]);
  writeFileSync(join(local.dataDir, 'in.wav'), input.toBuffer());
  const peer = await RoomPeer.join(local.stack.info.mediaUrl, 'demo-room', { token: local.stack.info.token });
  // The room speaks from the moment the caller is in it (the CLI's start-up time varies with the machine's load).
  const speaking = peer.next('participant-joined', () => true, 30_000).then(() => peer.play(tone(1300, 2.5, 8000, 16000)));

  const { stdout } = await run(['--play', join(local.dataDir, 'in.wav'), '--record', join(local.dataDir, 'out.wav'), '--dtmf', '4#']);
  await speaking;
  expect(stdout).toMatch(/calls +1 of 1 completed \(2\.0 s of audio each\)/);
  expect(stdout).toMatch(/call 1 +call_[0-9a-z]{20} in room demo-room\n/);
  expect(stdout).toMatch(/answer +p50 [\d.]+ ms/);
  expect(stdout).toMatch(/first audio +p50 [\d.]+ ms/);
  expect(stdout).toMatch(/frames +100 sent, \d+ received, \d+ late/);

  // The room heard the WAV and the keys; the recording holds the room.
  expect(toneLevel(peer.receivedPcm(10), 500, 16000)).toBeGreaterThan(4000);
  expect((await peer.next('dtmf', (m) => m.digit === '4')).digit).toBe('4');
  expect((await peer.next('dtmf', (m) => m.digit === '#')).digit).toBe('#');
  const recorded = new WaveFile(readFileSync(join(local.dataDir, 'out.wav')));
  expect((recorded.fmt as { sampleRate: number }).sampleRate).toBe(8000);
  const heard = recorded.getSamples(false, Int16Array) as unknown as Int16Array;
  expect(heard.length).toBeGreaterThan(8000);
  expect(toneLevel(heard.subarray(1600), 1300)).toBeGreaterThan(3000);
  await peer.close();
}, 60_000);

it('places concurrent calls that hear each other, and fails clearly on a bad Answer URL', async () => {
  const { stdout } = await run(['--calls', '3', '--seconds', '1.5']);
  expect(stdout).toMatch(/calls +3 of 3 completed/);
  expect(stdout).toMatch(/first audio +p50 [\d.]+ ms, max [\d.]+ ms after the stream started \(3 of 3 calls heard something\)/);
  await expect(run(['--answer-url', `${local.stack.info.apiUrl}/v2/hooks/plivo/whk_nope0000000000000000000000000000000`, '--seconds', '0.2'])).rejects.toMatchObject({
    code: 1,
    stdout: expect.stringMatching(/calls +0 of 1 completed[\s\S]*call 1 failed: Answer URL replied 404: Plivo XML that hangs up \(reason rejected\): no connector holds this Answer URL's webhook key\n/),
  });
  await expect(run(['--calls', 'many'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--calls must be 1-1000') });
}, 60_000);

/** `npm run call -- --answer ...` as a user starts it in another terminal: resolves once it waits for calls. */
async function answering(args: string[]) {
  const child = spawn(NODE_TSX[0], [...NODE_TSX.slice(1), 'tools/call.ts', ...args], { cwd: ROOT, env: { ...process.env, DATA_DIR: local.dataDir }, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await Promise.race([waitFor(() => (stderr.includes('answering calls to') ? true : undefined), 20_000), exited.then((code) => Promise.reject(new Error(`exited ${code}: ${stderr}`)))]);
  return { exited, output: () => ({ stdout, stderr }) };
}

it('answers an outbound call placed from a room: each side hears the other, the WAV holds the room, the callee hangs up', async () => {
  const api = (method: string, path: string, body?: unknown) => apiRequest(local.stack, method, path, body);
  // A connector holding a Plivo account: the stack's emulator knows it by the connector's credentials.
  const connector = await api('POST', '/v2/connectors', { provider: 'plivo', plivoAuthId: `MA${randomBytes(9).toString('hex').toUpperCase()}`, plivoAuthToken: randomBytes(20).toString('hex') });
  expect(connector.status).toBe(201);
  const input = new WaveFile();
  input.fromScratch(1, 8000, '16', tone(500, 1, 8000));
  writeFileSync(join(local.dataDir, 'callee.wav'), input.toBuffer());
  // ...0001 is the emulator's busy callee: the tool answering it takes the number over.
  const number = '+14155550001';
  const tool = await answering(['--answer', number, '--play', join(local.dataDir, 'callee.wav'), '--record', join(local.dataDir, 'heard.wav'), '--seconds', '4']);
  // Only one tool answers a number.
  await expect(run(['--answer', number])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('refused --answer +14155550001: 409') });

  const peer = await RoomPeer.join(local.stack.info.mediaUrl, 'answer-room', { token: local.stack.info.token });
  const placed = await api('POST', '/v2/sip/call', { sipCallTo: number, sipCallFrom: '+14155550199', destinationRoomId: 'answer-room', waitUntilAnswered: true });
  expect(placed.status).toBe(201);
  expect(placed.data).toMatchObject({ type: 'outbound', status: 'answered', to: number });
  // The room hears the tool's WAV; the tool hears the room.
  await peer.until(() => (toneLevel(peer.receivedPcm(), 500, 16000) > 4000 ? true : undefined), 'the callee heard in the room', 10_000);
  await peer.play(tone(1300, 1.5, 8000, 16000));

  expect(await tool.exited).toBe(0);
  const { stdout, stderr } = tool.output();
  expect(stderr).toContain('call 1 answered: +14155550199 -> +14155550001');
  expect(stdout).toMatch(/calls +1 answered \(calls to \+14155550001\)/);
  expect(stdout).toMatch(/length +p50 [34]\.\d s/);
  expect(stdout).toMatch(/first audio +p50 [\d.]+ ms/);
  expect(stdout).toMatch(/frames +\d{3} sent, \d+ received, \d+ late/);
  const recorded = new WaveFile(readFileSync(join(local.dataDir, 'heard.wav')));
  const heard = recorded.getSamples(false, Int16Array) as unknown as Int16Array;
  expect(toneLevel(heard, 1300)).toBeGreaterThan(2000);
  // The callee hung up after 4 s: the emulator ended the call, its stream left the room.
  await peer.next('participant-left');
  await waitFor(async () => ((await api('GET', `/v2/sip/call/${placed.data.id as string}`)).data.status === 'ended' ? true : undefined), 5000);
  await peer.close();
}, 60_000);

it('alone in its room a call hears nothing and says why; with --echo it records itself', async () => {
  const input = new WaveFile();
  input.fromScratch(1, 8000, '16', tone(700, 2, 8000));
  writeFileSync(join(local.dataDir, 'alone.wav'), input.toBuffer());
  const alone = await run(['--play', join(local.dataDir, 'alone.wav'), '--record', join(local.dataDir, 'silence.wav')]);
  expect(alone.stdout).toMatch(/first audio +none: nobody else in room demo-room spoke\. Join it .*or add --echo/);
  expect(alone.stdout).toMatch(/frames +100 sent, 0 received/);

  const echoed = await run(['--play', join(local.dataDir, 'alone.wav'), '--record', join(local.dataDir, 'echo.wav'), '--echo']);
  expect(echoed.stdout).toMatch(/call 1 +call_[0-9a-z]{20} in room demo-room\n/);
  expect(echoed.stdout).toMatch(/first audio +p50 [\d.]+ ms/);
  const heard = new WaveFile(readFileSync(join(local.dataDir, 'echo.wav'))).getSamples(false, Int16Array) as unknown as Int16Array;
  // The caller's own tone, back through the room: 2 s sent, most of it heard.
  expect(heard.length).toBeGreaterThan(8000);
  expect(toneLevel(heard.subarray(1600), 700)).toBeGreaterThan(3000);
}, 60_000);

it("says why the connector rejected a call: the Answer URL's Plivo XML and the call's hangupReason", async () => {
  // A connector with no default room and no rules routes no call.
  const connector = await apiRequest(local.stack, 'POST', '/v2/connectors', { provider: 'plivo', name: 'Routes nothing' });
  expect(connector.status).toBe(201);
  await expect(run(['--answer-url', connector.data.webhookUrl as string, '--seconds', '0.2'])).rejects.toMatchObject({
    code: 1,
    stdout: expect.stringMatching(
      /call 1 +call_[0-9a-z]{20}\n[\s\S]*call 1 failed: Answer URL replied 200: Plivo XML that hangs up \(reason rejected\): the connector rejected the call \(its routing, or the room\) \(the call is rejected: no-route\)/,
    ),
  });
  // --echo answers only calls of the local stack's demo tenant, in its rooms.
  await expect(run(['--answer-url', 'http://127.0.0.1:9/v2/hooks/plivo/whk_x', '--echo'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining(`--echo joins rooms of the local stack at ${local.stack.info.apiUrl}: --answer-url must be one of its connectors`) });
}, 30_000);
