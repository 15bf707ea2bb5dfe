import { fork, type ChildProcess, type Serializable } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { sqsClient } from '../../core/aws';
import { handOff } from '../../ingest-container/src/handoff';
import { ensureWebhookQueues } from '../../local/aws';
import { localControlPlaneEnv, localMediaEnv } from '../../local/config';
import { tone } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { apiRequest, localProcessPerFile, ROOT, waitFor } from '../support/local-process';

/**
 * `npm start`'s balancer hands each media connection to a media server's process: the media of a call never passes
 * through `npm start`'s own process, and the balancer still refuses with 503 when no server is serving. A media
 * server survives hand-offs gone wrong.
 */
const local = localProcessPerFile('media-hand-off-');

/** Bytes a process has read and written through system calls so far (sockets, pipes and files alike), from /proc. */
function bytesThrough(pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
  return field('rchar') + field('wchar');
}

async function pairThroughTheBalancer(room: string): Promise<[SimulatedCall, SimulatedCall]> {
  const { data } = await apiRequest(local.stack, 'POST', '/v2/connectors', { provider: 'plivo', defaultRoomId: room });
  const calls = [new SimulatedCall({ answerUrl: data.webhookUrl as string, from: '14155550131' }), new SimulatedCall({ answerUrl: data.webhookUrl as string, from: '14155550132' })] as const;
  for (const call of calls) {
    const streamUrl = await call.answer();
    // The Answer URL's stream URL is npm start's own port: the balancer, not a media server's.
    expect(new URL(streamUrl).port).toBe(new URL(local.stack.info.apiUrl).port);
    await call.connect(streamUrl);
  }
  return [calls[0], calls[1]];
}

it('carries no media through the npm start process: two calls stream both ways while its bytes stay flat', async () => {
  const [a, b] = await pairThroughTheBalancer('hand-off-room');
  const api = local.stack.child.pid as number;
  // Idle first, as long as the calls will talk: health checks, the sweeper and log lines move some bytes anyway.
  const seconds = 3;
  const idleStart = bytesThrough(api);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const idle = bytesThrough(api) - idleStart;
  const talkingStart = bytesThrough(api);
  await Promise.all([a.play(tone(600, seconds)), b.play(tone(1400, seconds))]);
  await waitFor(() => (a.received.length >= 40 && b.received.length >= 40 ? true : undefined));
  const talking = bytesThrough(api) - talkingStart;
  // The audio alone, base64 in each direction: 2 calls x 50 frames a second x 216 characters, sent and heard.
  const audioBytes = 2 * 2 * seconds * 50 * 216;
  // A proxy reads and writes every byte of it (at least 2 x audioBytes; 3.2x measured); the hand-off moves none of it,
  // and the idle traffic (16 KB a second here) varies by a few KB.
  expect(talking - idle).toBeLessThan(audioBytes / 4);
  await Promise.all([a.hangup(), b.hangup()]);
}, 30_000);

it('refuses a stream with 503 and a JSON message when no media server is serving', async () => {
  const { data } = await apiRequest(local.stack, 'POST', '/v2/connectors', { provider: 'plivo', defaultRoomId: 'no-server' });
  const call = new SimulatedCall({ answerUrl: data.webhookUrl as string });
  const streamUrl = await call.answer();
  const server = local.stack.info.mediaServers[0] as { pid: number };
  process.kill(server.pid, 'SIGKILL');
  await waitFor(() => (local.stack.output().includes('"msg":"media server exited"') ? true : undefined));
  const ws = new WebSocket(streamUrl);
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    ws.once('unexpected-response', (_req, reply) => resolve(reply));
    ws.once('open', () => reject(new Error('upgraded with no media server')));
    ws.once('error', reject);
  });
  let body = '';
  for await (const chunk of res) body += (chunk as Buffer).toString();
  expect(res.statusCode).toBe(503);
  expect(JSON.parse(body)).toEqual({ message: 'No media server is serving', code: 'unavailable' });
}, 30_000);

/** A media server process of our own (the container's entry point, on npm start's AWS stand-ins), as the balancer forks it. */
async function forkMediaServer(): Promise<{ child: ChildProcess; output: () => string }> {
  const { aws, apiUrl } = local.stack.info;
  const sqs = sqsClient({ region: 'us-east-1', sqsEndpoint: aws.sqsEndpoint });
  const controlEnv = localControlPlaneEnv({}, aws, await ensureWebhookQueues(sqs), apiUrl);
  sqs.destroy();
  const child = fork(join(ROOT, 'ingest-container', 'src', 'main.ts'), [], { cwd: ROOT, env: localMediaEnv({}, controlEnv, 'us002'), execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`media server exited with ${code}: ${output}`)));
    child.on('message', (message: { type?: string }) => message.type === 'ready' && resolve());
  });
  return { child, output: () => output };
}

/**
 * A client's connection, accepted here as the balancer accepts it: its first bytes read, then handed to `child` with
 * `message(bytes)`; `afterHandOff` acts as the client once it is handed. Resolves with what the client got back.
 */
async function handOver(child: ChildProcess, request: string, message: (bytes: Buffer) => Serializable, afterHandOff?: (client: Socket) => void): Promise<string> {
  const balancer = createServer((socket) =>
    socket.once('data', (bytes: Buffer) => {
      socket.pause();
      child.send(message(bytes), socket, () => afterHandOff?.(client));
    }),
  );
  await new Promise<void>((resolve) => balancer.listen(0, '127.0.0.1', resolve));
  const client = connect((balancer.address() as AddressInfo).port, '127.0.0.1', () => client.write(request));
  let reply = '';
  client.on('data', (chunk: Buffer) => (reply += chunk.toString()));
  await new Promise((resolve) => client.once('close', resolve).once('error', () => undefined));
  balancer.close();
  return reply;
}

it('a media server survives hand-offs gone wrong, ending that connection alone, and serves the next', async () => {
  const { child, output } = await forkMediaServer();
  try {
    const health = 'GET /health HTTP/1.1\r\nhost: media\r\nconnection: close\r\n\r\n';
    // A connection without its request head, or under a message that is no hand-off: closed, unanswered.
    expect(await handOver(child, health, () => ({ type: 'connection' }))).toBe('');
    expect(await handOver(child, health, () => 'not a hand-off')).toBe('');
    await waitFor(() => (output().split('"msg":"hand-off failed: the connection is ended"').length === 3 ? true : undefined));
    // A hand-off message without its connection: noted and ignored.
    child.send({ type: 'connection', head: 'R0VU' });
    await waitFor(() => (output().includes('"msg":"hand-off without a connection: ignored"') ? true : undefined));
    // A client that resets its connection just after the hand-off, mid-request.
    expect(await handOver(child, 'GET /health HTTP/1.1\r\n', handOff, (client) => client.resetAndDestroy())).toBe('');
    // Still serving: a whole hand-off is answered as a connection of its own.
    expect(await handOver(child, health, handOff)).toMatch(/^HTTP\/1\.1 200 /);
    expect(child.exitCode).toBeNull();
  } finally {
    child.kill('SIGKILL');
  }
}, 60_000);
