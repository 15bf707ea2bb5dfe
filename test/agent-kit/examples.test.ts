import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WaveFile } from 'wavefile';
import { dialRoom } from '../../agent-kit/src';
import { tone, toneLevel } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { RoomPeer } from '../../tools/room-peer';
import { apiRequest, NODE_TSX, ROOT, localProcessPerFile, waitFor } from '../support/local-process';

/**
 * The agent kit's examples end to end, each a real process as its docs run it, dialled by `npm start`'s media server
 * for a simulated Plivo call that a routing rule routes to it; and dialRoom joining a room of the same stack.
 */
const local = localProcessPerFile('e2e-agent-kit-');
const api = (method: string, path: string, body?: unknown) => apiRequest(local.stack, method, path, body);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An example agent as a process on a free port: what it logged (one JSON object a line), and its URL. */
interface Example {
  readonly child: ChildProcess;
  readonly logs: Record<string, unknown>[];
  readonly url: string;
  logged(event: string, match?: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

const examples: Example[] = [];
afterAll(async () => {
  await Promise.all(
    examples.map(({ child }) =>
      child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve).kill('SIGINT')) : Promise.resolve(),
    ),
  );
});

async function startExample(file: string, args: string[] = []): Promise<Example> {
  const child = spawn(NODE_TSX[0], [...NODE_TSX.slice(1), join('agent-kit/examples', file), '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const logs: Record<string, unknown>[] = [];
  let rest = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString('utf8')).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  const logged = (event: string, match: (line: Record<string, unknown>) => boolean = () => true, timeoutMs = 5000) => waitFor(() => logs.find((l) => l.event === event && match(l)), timeoutMs);
  const url = (await logged('listening', undefined, 15_000)).url as string;
  const example = { child, logs, url, logged };
  examples.push(example);
  return example;
}

/** An agent at `url` (16 kHz: the prompts and the caller are resampled both ways) and an inbound rule routing `to` to it. */
async function routeTo(to: string, url: string): Promise<string> {
  const agent = await api('POST', '/v2/agents', { name: `kit agent for ${to}`, url, sampleRate: 16000 });
  expect(agent.status).toBe(201);
  const rule = await api('POST', '/v2/sip/routing-rule', { name: `kit ${to}`, type: 'inbound', phoneNumbers: [`+${to}`], room: { type: 'dynamic' }, agentId: agent.body.id });
  expect(rule.status).toBe(201);
  const { data } = await api('POST', '/v2/connectors', { provider: 'plivo', defaultRoomId: 'unused' });
  return data.webhookUrl as string;
}

/** The first received frame at or after `from` where `hz` is loud. */
const firstHeard = (frames: { at: number; pcm: Int16Array }[], hz: number, from = 0) => frames.findIndex((f, i) => i >= from && toneLevel(f.pcm, hz) > 2000);

it('echo: the caller hears their own tone back', async () => {
  const echo = await startExample('echo.ts');
  const call = new SimulatedCall({ answerUrl: await routeTo('14155550201', echo.url), to: '14155550201' });
  await call.start();
  expect(await echo.logged('joined')).toMatchObject({ sampleRate: 16000, call: { callUuid: call.callUuid } });
  let firstSentAt = 0;
  await call.play(tone(600, 1.5), (i, at) => i === 0 && (firstSentAt = at));
  await sleep(300);
  const frames = call.receivedFrames();
  const heard = firstHeard(frames, 600);
  expect(heard).toBeGreaterThanOrEqual(0);
  expect(toneLevel(call.receivedPcm().subarray((heard + 5) * 160, (heard + 60) * 160), 600)).toBeGreaterThan(4000);
  // Through the room's jitter buffer to the agent and back through the agent's: well under a quarter second.
  expect((frames[heard] as { at: number }).at - firstSentAt).toBeLessThan(250);
  await call.hangup();
  expect(await echo.logged('closed')).toMatchObject({ code: 1000 });
}, 30_000);

it('dtmf menu: the first prompt plays, a key stops it (clear), the chosen prompt plays, its checkpoint is played', async () => {
  const prompts = mkdtempSync(join(tmpdir(), 'kit-prompts-'));
  try {
    const wav = (hz: number, seconds: number) => {
      const file = new WaveFile();
      file.fromScratch(1, 8000, '16', tone(hz, seconds));
      return file.toBuffer();
    };
    writeFileSync(join(prompts, 'menu.wav'), wav(500, 4));
    writeFileSync(join(prompts, 'option-1.wav'), wav(1000, 1));
    writeFileSync(join(prompts, 'option-2.wav'), wav(1500, 1));
    const menu = await startExample('dtmf-menu.ts', ['--prompts', prompts]);
    const call = new SimulatedCall({ answerUrl: await routeTo('14155550202', menu.url), to: '14155550202' });
    await call.start();
    // Plivo's side: each checkpoint is played once the audio before it was (the room sends it only then).
    const answered = new Set<unknown>();
    const plivo = setInterval(() => {
      for (const c of call.controls) {
        if (c.event === 'checkpoint' && !answered.has(c)) {
          answered.add(c);
          call.send({ event: 'playedStream', streamId: call.streamId, name: c.name });
        }
      }
    }, 20);
    try {
      await waitFor(() => (firstHeard(call.receivedFrames(), 500) >= 0 ? true : undefined));
      await sleep(1000);
      const pressedAt = call.received.length;
      call.sendDtmf('2');
      expect(await menu.logged('barge-in')).toMatchObject({ stopped: 'menu' });
      expect(await menu.logged('checkpoint-played', (l) => l.name === 'option-2', 5000)).toBeDefined();
      const frames = call.receivedFrames();
      // The menu stopped within a frame of the key (one may be on its way), the option played after it.
      const menuAfter = frames.slice(pressedAt + 1).filter((f) => toneLevel(f.pcm, 500) > 2000);
      expect(menuAfter).toEqual([]);
      const option = firstHeard(frames, 1500, pressedAt);
      expect(option).toBeGreaterThanOrEqual(pressedAt);
      expect(toneLevel(call.receivedPcm().subarray((option + 5) * 160, (option + 40) * 160), 1500)).toBeGreaterThan(4000);
      // Plivo was told to drop what it held, and the cut menu's checkpoint never reached it.
      const events = call.controls.map((c) => (c.event === 'checkpoint' ? `checkpoint ${String(c.name)}` : c.event));
      expect(events).toContain('clearAudio');
      expect(events.filter((e) => String(e).startsWith('checkpoint'))).toEqual(['checkpoint option-2']);
      expect(menu.logs.filter((l) => l.event === 'checkpoint-played').map((l) => l.name)).toEqual(['option-2']);
    } finally {
      clearInterval(plivo);
    }
    await call.hangup();
  } finally {
    rmSync(prompts, { recursive: true, force: true });
  }
}, 30_000);

it('dialRoom joins a room as an agent: a room peer hears it; a participant token is refused', async () => {
  const { mediaUrl, token } = local.stack.info;
  const peer = await RoomPeer.join(mediaUrl, 'kit-room', { token });
  const agent = await dialRoom(mediaUrl, { token, roomId: 'kit-room', sampleRate: 24000 });
  expect(agent.joined).toMatchObject({ roomId: 'kit-room', sampleRate: 24000, participants: [{ kind: 'web' }] });
  // Sent ahead of real time at once; the room plays it out at real time.
  expect(await agent.send(tone(900, 1, 8000, 24000))).toBe(true);
  await sleep(1200);
  expect(toneLevel(peer.receivedPcm(10), 900, 16000)).toBeGreaterThan(4000);
  await agent.close();
  const minted = await api('POST', '/v2/rooms/kit-room/tokens', { ttlSeconds: 600 });
  await expect(dialRoom(mediaUrl, { token: minted.data.token as string, roomId: 'kit-room' })).rejects.toMatchObject({ code: 'join_refused', status: 403, serverCode: 'forbidden' });
  await peer.close();
}, 30_000);
