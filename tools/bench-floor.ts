import { fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';
import { mediaFrameOf, playAudioFrame, playAudioMessage } from '../ingest-container/src/plivo/protocol';
import { calibrationMs, machine, round, writeReport } from './bench-support';

/**
 * `npm run bench:floor`: what one loopback `ws` message costs the process at either end, with nothing done with it,
 * against what reading a Plivo `media` message and building its `playAudio` adds. That is the floor under both the
 * bare pump and the media server: a forwarded frame is one message in and one out, whatever the bridge does between.
 *
 * One server process, one child process holding `--sockets` client sockets. Receive: the child sends every socket a
 * Plivo `media` message (as `tools/load-calls.ts` shapes it) each 2 ms round, the server's handler does nothing, parses
 * it as the pump does (`toString` + `JSON.parse`) or reads it as the media server does (`mediaFrameOf`). Send: the
 * server sends every socket a `playAudio`, as the media server does (`playAudioFrame`: bytes) and as the pump does
 * (`playAudioMessage`: a string). CPU is the server process's own (user + system) per message, the median of `--rounds`
 * alternating rounds.
 */
const PAYLOAD = Buffer.alloc(160, 0x55).toString('base64');
const MEDIA = `{"event":"media","sequenceNumber":12345,"streamId":"b77e037d-4119-44b5-902d-25826b654539","media":{"track":"inbound","timestamp":"246900","chunk":12345,"payload":"${PAYLOAD}"}}`;

type Receive = 'nothing' | 'JSON.parse' | 'mediaFrameOf';
type Send = 'playAudioFrame' | 'playAudioMessage';

/** The child: `sockets` clients; on `{send: n}` each sends n messages, one a socket every 2 ms; counts what it receives. */
async function child(port: number, sockets: number): Promise<void> {
  let received = 0;
  const all = await Promise.all(
    Array.from({ length: sockets }, () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
      ws.on('message', () => received++);
      return new Promise<WebSocket>((resolve) => ws.once('open', () => resolve(ws)));
    }),
  );
  process.on('message', (m: { send?: number; received?: true }) => {
    if (m.received) return process.send?.(received);
    void (async () => {
      for (let i = 0; i < (m.send ?? 0); i++) {
        for (const ws of all) ws.send(MEDIA);
        await new Promise((r) => setTimeout(r, 2));
      }
      process.send?.('sent');
    })();
  });
  process.send?.('ready');
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const cpuUs = (since: NodeJS.CpuUsage): number => {
  const { user, system } = process.cpuUsage(since);
  return user + system;
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sockets: { type: 'string', default: '200' }, messages: { type: 'string', default: '100' }, rounds: { type: 'string', default: '7' } } });
  const sockets = Number(values.sockets);
  const perRound = Number(values.messages);
  const rounds = Number(values.rounds);
  const calibration = calibrationMs();
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, maxPayload: 64 * 1024 });
  let handler: Receive = 'nothing';
  let read = 0;
  const open: WebSocket[] = [];
  wss.on('connection', (ws) => {
    open.push(ws);
    ws.on('message', (data: Buffer, isBinary) => {
      if (handler === 'JSON.parse') read += (JSON.parse(data.toString('utf8')) as { event?: string }).event === 'media' ? 1 : 0;
      else if (handler === 'mediaFrameOf') read += mediaFrameOf(data, isBinary) ? 1 : 0;
    });
  });
  await new Promise((r) => wss.once('listening', r));
  const address = wss.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const peer = fork(__filename, ['--child', String(port), String(sockets)], { execArgv: process.execArgv });
  const fromPeer = <T>(): Promise<T> => new Promise((resolve) => peer.once('message', (m) => resolve(m as T)));
  await fromPeer();
  const idle = () => new Promise((r) => setTimeout(r, 100));

  const receiveUs: Record<Receive, number[]> = { nothing: [], 'JSON.parse': [], mediaFrameOf: [] };
  const sendUs: Record<Send, number[]> = { playAudioFrame: [], playAudioMessage: [] };
  const sends: Record<Send, (ws: WebSocket) => void> = {
    playAudioFrame: (ws) => ws.send(playAudioFrame(PAYLOAD), { binary: false }),
    playAudioMessage: (ws) => ws.send(playAudioMessage(PAYLOAD)),
  };
  for (let round = 0; round < rounds; round++) {
    for (const h of Object.keys(receiveUs) as Receive[]) {
      handler = h;
      const since = process.cpuUsage();
      peer.send({ send: perRound });
      await fromPeer();
      await idle();
      receiveUs[h].push(cpuUs(since) / (perRound * sockets));
    }
    for (const s of Object.keys(sendUs) as Send[]) {
      const since = process.cpuUsage();
      for (let i = 0; i < perRound; i++) {
        for (const ws of open) sends[s](ws);
        await new Promise((r) => setTimeout(r, 2));
      }
      await idle();
      sendUs[s].push(cpuUs(since) / (perRound * sockets));
    }
  }
  peer.send({ received: true });
  const received = await fromPeer<number>();
  peer.kill();
  wss.close();

  const r = (xs: number[]) => round(median(xs));
  const result = {
    receiveUsPerMessage: { nothing: r(receiveUs.nothing), jsonParse: r(receiveUs['JSON.parse']), mediaFrameOf: r(receiveUs.mediaFrameOf) },
    sendUsPerMessage: { playAudioFrame: r(sendUs.playAudioFrame), playAudioMessage: r(sendUs.playAudioMessage) },
  };
  const floor = result.receiveUsPerMessage.nothing + result.sendUsPerMessage.playAudioFrame;
  const pump = result.receiveUsPerMessage.jsonParse + result.sendUsPerMessage.playAudioMessage;
  const summary = { ...result, floorUsPerFrame: round(floor), pumpUsPerFrame: round(pump), floorOverPump: round(floor / pump), messagesRead: read, repliesReceived: received };
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  writeReport('floor', {
    command: `npm run bench:floor -- --sockets ${sockets} --messages ${perRound} --rounds ${rounds}`,
    machine: machine(calibration),
    conditions: `one server process and one child process holding ${sockets} loopback ws sockets (no compression); ${perRound} messages a socket per round, one a socket every 2 ms; CPU of the server process per message, median of ${rounds} rounds; each round includes 100 ms idle after its last message`,
    results: summary,
  });
}

if (process.argv[2] === '--child') void child(Number(process.argv[3]), Number(process.argv[4]));
else void main();
