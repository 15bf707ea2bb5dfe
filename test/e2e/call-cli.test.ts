import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WaveFile } from 'wavefile';
import { tone, toneLevel } from '../../tools/audio';
import { RoomPeer } from '../../tools/room-peer';
import { NODE_TSX, ROOT, localProcessPerFile } from '../support/local-process';

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
    stdout: expect.stringMatching(/calls +0 of 1 completed[\s\S]*call 1 failed: Answer URL replied 404/),
  });
  await expect(run(['--calls', 'many'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--calls must be 1-1000') });
}, 60_000);
