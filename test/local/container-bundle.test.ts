import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { sqsClient } from '../../core/aws';
import { ensureWebhookQueues } from '../../local/aws';
import { localControlPlaneEnv, localMediaEnv } from '../../local/config';
import { RoomPeer } from '../../tools/room-peer';
import { localProcessPerFile, ROOT, waitFor } from '../support/local-process';

/**
 * The media server's build step, as its Dockerfile runs it (`npm run build:container`: the console's bundle, then one
 * esbuild bundle of the server, bufferutil external), and the bundle run as the image runs it (`node dist/main.js`, the console files beside
 * it), against `npm start`'s AWS stand-ins: it serves /health and the console, seats a room participant, and
 * drains and exits cleanly on SIGTERM. (No Docker daemon here: the image itself is built in CI or at deploy.)
 */
const local = localProcessPerFile('container-bundle-');
let child: ChildProcess;
let output = '';

beforeAll(async () => {
  execFileSync('npm', ['run', '-s', 'build:container'], { cwd: ROOT, stdio: 'pipe' });
  const { aws, apiUrl } = local.stack.info;
  const sqs = sqsClient({ region: 'us-east-1', sqsEndpoint: aws.sqsEndpoint });
  const controlEnv = localControlPlaneEnv({}, aws, await ensureWebhookQueues(sqs), apiUrl);
  sqs.destroy();
  child = spawn(process.execPath, ['--enable-source-maps', join(ROOT, 'ingest-container', 'dist', 'main.js')], {
    env: { ...localMediaEnv({}, controlEnv, 'us002'), NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
}, 60_000);

afterAll(() => {
  if (child.exitCode === null) child.kill('SIGKILL');
});

it('runs from the bundle: health, console, a room participant, then a clean drain on SIGTERM', async () => {
  const started = await waitFor(() => /"msg":"media server started".*"port":(\d+),"relayUrl":"ws:\/\/([^"]+)"/.exec(output) ?? undefined, 20_000);
  const base = `http://127.0.0.1:${started[1]}`;
  // Through the public load balancer: whether it serves, nothing about which server or its load.
  expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'serving' });
  expect(await (await fetch(`http://${started[2]}/health`)).json()).toMatchObject({ status: 'serving', serverId: expect.stringMatching(/^media-/), activeCalls: 0, rooms: 0 });
  const page = await fetch(`${base}/console`);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('<html');
  // build:container bundled the console's app too, as the Dockerfile's build stage runs it.
  expect((await fetch(`${base}/console/console.js`)).status).toBe(200);
  const peer = await RoomPeer.join(base.replace(/^http/, 'ws'), 'bundle-room', { token: local.stack.info.token });
  expect(peer.messages[0]).toMatchObject({ type: 'joined', roomId: 'bundle-room' });
  await peer.close();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(output).toContain('"msg":"media server stopped"');
}, 30_000);
