import { fork, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sqsClient } from '../../core/aws';
import { ensureWebhookQueues } from '../../local/aws';
import { localControlPlaneEnv, localMediaEnv } from '../../local/config';
import { tone, toneLevel } from '../../tools/audio';
import { RoomPeer } from '../../tools/room-peer';
import { localProcessPerFile, NODE_TSX, ROOT } from '../support/local-process';

/**
 * Bugs planted in the media server's callbacks (test/faults/support/faulty-media-server.ts) end the one connection
 * that tripped them, logged with its ids, and never the process: another tenant's room on the same server keeps its
 * audio. Two such servers share `npm start`'s AWS stand-ins, as a region's tasks share its table.
 */
const local = localProcessPerFile('planted-faults-');
interface Server {
  readonly child: ChildProcess;
  readonly url: string;
  output: string;
}
const servers: Server[] = [];

function startServer(env: Record<string, string>): Promise<Server> {
  const child = fork(join(__dirname, 'support', 'faulty-media-server.ts'), [], { cwd: ROOT, env, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const server = { child, url: '', output: '' };
  child.stdout?.on('data', (chunk: Buffer) => (server.output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (server.output += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`media server exited with ${code}: ${server.output}`)));
    child.on('message', (message: { type?: string; port?: number }) => {
      if (message.type === 'ready') resolve({ ...server, url: `ws://127.0.0.1:${message.port}`, get output() { return server.output; } });
    });
  });
}

beforeAll(async () => {
  const { aws, apiUrl } = local.stack.info;
  const sqs = sqsClient({ region: 'us-east-1', sqsEndpoint: aws.sqsEndpoint });
  const controlEnv = localControlPlaneEnv({}, aws, await ensureWebhookQueues(sqs), apiUrl);
  sqs.destroy();
  const env = { ...localMediaEnv({}, controlEnv, 'us002'), PLACEMENT_LEASE_SECONDS: '3' };
  servers.push(...(await Promise.all([startServer(env), startServer(env)])));
}, 60_000);

afterAll(() => servers.forEach(({ child }) => child.kill('SIGKILL')));

it("a throw in an upgrade callback, a close listener or the relay's seating ends that connection only", async () => {
  const [a, b] = servers as [Server, Server];
  const token = local.stack.info.token;
  const { stdout } = await promisify(execFile)(NODE_TSX[0], [...NODE_TSX.slice(1), 'tools/token.ts', '--apikey', 'bystander', '--permissions', 'allow_join'], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: local.dataDir },
  });
  const bystanders = await Promise.all([0, 1].map(() => RoomPeer.join(a.url, 'calm', { token: stdout.trim() })));
  const [speaker, listener] = bystanders as [RoomPeer, RoomPeer];

  // Joining: the participant is closed with 1011, its ids logged.
  const joining = await RoomPeer.join(a.url, 'boom-join', { token });
  await joining.until(() => joining.closeCode ?? undefined, 'the 1011 close');
  expect(joining.closeCode).toBe(1011);
  expect(a.output).toMatch(/"level":"error","msg":"accepting a connection failed: the connection is ended".*"tenant":"demo","roomId":"boom-join"/);

  // Leaving: the close listener throws; the participant is gone all the same.
  const leaving = await RoomPeer.join(a.url, 'boom-leave', { token });
  await leaving.close();

  // The relay's seating on the room's server (a is the owner, b relays a second participant to it).
  const owner = await RoomPeer.join(a.url, 'boom-seat', { token });
  await expect(RoomPeer.join(b.url, 'boom-seat', { token })).rejects.toMatchObject({ status: 503 });
  expect(a.output).toMatch(/"level":"error","msg":"relayed seating failed: the connection is ended".*"roomId":"boom-seat"/);
  await owner.close();

  await Promise.all([speaker.play(tone(700, 0.6, 16000, 16000))]);
  await listener.until(() => (toneLevel(listener.receivedPcm(), 700, 16000) > 4000 ? true : undefined), 'the bystander room heard');
  expect(bystanders.map((peer) => peer.closeCode)).toEqual([null, null]);
  expect([a.child.exitCode, a.child.signalCode]).toEqual([null, null]);
  expect(a.output).toMatch(/leaving the room failed: the connection is ended/);
  await Promise.all(bystanders.map((peer) => peer.close()));
}, 60_000);
