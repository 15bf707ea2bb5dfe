import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { switchGap, tone, toneLevel } from './audio';
import { calibrationMs, machine, quantile, round, startStack, writeReport } from './bench-support';
import { SimulatedCall } from './plivo-simulator';
import { RoomPeer } from './room-peer';

/**
 * `npm run bench:switch`: the audio gap a caller hears across `POST /v2/sip/call/switch-room`, through `npm start` with
 * two media servers. Each round places a simulated call (tools/plivo-simulator.ts) into room A on media server 0,
 * where a participant plays 600 Hz; room B has a participant playing 1400 Hz, on server 0 (`same-server`) or on
 * server 1 (`cross-server`: the call's leg is relayed there). Once the caller hears A, the switch is asked for; the gap
 * is the time from the arrival of the last 20 ms frame of A's tone at the caller to that of the first of B's (20 ms:
 * seamless), as the caller's socket received them. Also reported: frames of neither tone between them, and the time
 * from the API's answer to the first frame of B (the command's poll, up to a second, plus the move).
 */
const A_HZ = 600;
const B_HZ = 1400;

interface Round {
  readonly gapMs: number;
  readonly silentFrames: number;
  readonly requestToRoomBMs: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' } } });
  const rounds = Number(values.rounds);
  const calibration = calibrationMs();
  process.stderr.write(`bench:switch CPU calibration (1e8 additions): ${calibration} ms\n`);
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-switch-'));
  const stack = await startStack(dataDir, { env: { MEDIA_SERVERS: '2' } });
  const { info } = stack;
  const api = async (method: string, path: string, body?: unknown) =>
    (await (
      await fetch(info.apiUrl + path, {
        method,
        headers: { authorization: `Bearer ${info.token}`, 'content-type': 'application/json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      })
    ).json()) as { data: Record<string, unknown> };
  const serverUrl = (i: number) => info.mediaServers[i]?.url as string;
  const waitFor = async (probe: () => boolean | Promise<boolean>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await probe())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const results: Record<string, Round[]> = { 'same-server': [], 'cross-server': [] };
  try {
    for (let n = 0; n < rounds; n++) {
      for (const [kind, bServer] of [['same-server', 0], ['cross-server', 1]] as const) {
        const roomA = `bench-a-${kind}-${n}`;
        const roomB = `bench-b-${kind}-${n}`;
        const join = async (server: number, room: string, hz: number) => {
          const peer = await RoomPeer.join(serverUrl(server), room, { token: info.token, sampleRate: 8000 });
          void peer.play(tone(hz, 10));
          return peer;
        };
        const peers = [await join(0, roomA, A_HZ), await join(bServer, roomB, B_HZ)];
        const answerUrl = (await api('POST', '/v2/connectors', { provider: 'plivo', defaultRoomId: roomA })).data.webhookUrl as string;
        const call = new SimulatedCall({ answerUrl, from: '14155550100' });
        await call.connect((await call.answer()).replace(/^ws:\/\/[^/]+/, serverUrl(0)));
        const heard = (hz: number) => toneLevel(call.receivedPcm().subarray(-5 * 160), hz) > 2000;
        await waitFor(() => heard(A_HZ), 5000);
        const calls = (await api('GET', '/v2/sip/call?perPage=10')).data as unknown as { id: string; additionalDetails: { callUuid: string } }[];
        const callId = calls.find((c) => c.additionalDetails.callUuid === call.callUuid)?.id;
        const asked = performance.now();
        await api('POST', '/v2/sip/call/switch-room', { callId, roomId: roomB });
        await waitFor(() => heard(B_HZ), 5000);
        const frames = call.receivedFrames();
        const gap = switchGap(frames, A_HZ, B_HZ);
        const firstB = frames.find((frame) => toneLevel(frame.pcm, B_HZ) > 2000);
        if (gap && firstB) results[kind]?.push({ ...gap, requestToRoomBMs: round(firstB.at - asked) });
        process.stderr.write(`bench:switch ${kind} round ${n + 1}: gap ${gap ? round(gap.gapMs) : '?'} ms\n`);
        await Promise.all(peers.map((peer) => peer.close()));
        await call.hangup();
      }
    }
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const summary = Object.fromEntries(
    Object.entries(results).map(([kind, list]) => {
      const gaps = list.map((r) => r.gapMs).sort((a, b) => a - b);
      const toB = list.map((r) => r.requestToRoomBMs).sort((a, b) => a - b);
      return [kind, { rounds: list.length, gapP50Ms: round(quantile(gaps, 0.5)), gapMaxMs: round(gaps.at(-1) ?? NaN), silentFramesMax: Math.max(...list.map((r) => r.silentFrames)), requestToRoomBP50Ms: round(quantile(toB, 0.5)), requestToRoomBMaxMs: round(toB.at(-1) ?? NaN) }];
    }),
  );
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  writeReport('switch-room', { date: new Date().toISOString(), machine: machine(calibration), summary, rounds: results });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:switch failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
