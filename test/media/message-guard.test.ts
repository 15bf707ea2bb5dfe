import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { AudioBudget } from '../../ingest-container/src/room/audio-budget';
import { MediaClock } from '../../ingest-container/src/room/clock';
import { JitterBuffer } from '../../ingest-container/src/room/jitter-buffer';
import { Room, type Participant } from '../../ingest-container/src/room/room';
import { RoomSocket } from '../../ingest-container/src/room/socket';
import { newStats } from '../../ingest-container/src/transport/endpoint';
import { memoryLog } from '../support/stack';
import { newMediaCounters } from '../../ingest-container/src/metrics';

/**
 * A room participant's message handling that throws (here: a fellow member whose control does, as a bug of ours
 * would) ends that one connection with 1011, logged with its room and participant ids; the process and the others in
 * the room go on. Real RoomSockets over real WebSockets on port 0.
 */
let wss: WebSocketServer;
let clock: MediaClock;
let room: Room;
const clients: WebSocket[] = [];

beforeEach(async () => {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  clock = new MediaClock(() => undefined, newMediaCounters());
  room = new Room('acme', 'guarded', clock, () => undefined, new AudioBudget(1024 * 1024), newMediaCounters(), (err) => {
    throw err;
  });
});

afterEach(async () => {
  clients.forEach((ws) => ws.terminate());
  await new Promise((resolve) => wss.close(resolve));
  room.close();
});

/** A room participant over a real socket: the client end, and the log lines of its server end. */
async function participant(log: ReturnType<typeof memoryLog>, id: string): Promise<{ client: WebSocket; closed: Promise<{ code: number; reason: string }> }> {
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  clients.push(client);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => client.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const joined = new Promise((resolve) => client.once('message', resolve));
  new RoomSocket(await accepted, room, { id, kind: 'web', rate: 16000, log: log.logger.child({ tenant: 'acme', roomId: room.id, participantId: id }) });
  await joined;
  return { client, closed };
}

it('ends only the connection whose message handling threw, with 1011, and logs it with its ids', async () => {
  const phone: Participant = {
    id: 'ph_broken',
    kind: 'phone',
    rate: 8000,
    input: new JitterBuffer({ startFrames: 1, maxTarget: 1, capacity: 10, adaptive: false, counters: newMediaCounters() }),
    stats: newStats(),
    muted: false,
    deliver: () => undefined,
    notify: () => undefined,
    phoneControl: {
      clearAudio: () => undefined,
      sendDtmf: () => {
        throw new Error('a bug in a phone control');
      },
      checkpoint: () => undefined,
      hangup: () => undefined,
    },
  };
  room.join(phone);
  const log = memoryLog();
  const [thrower, bystander] = [await participant(log, 'web_thrower'), await participant(log, 'web_bystander')];
  thrower.client.send(JSON.stringify({ type: 'send-dtmf', digits: '1' }));
  expect(await thrower.closed).toEqual({ code: 1011, reason: 'internal error' });
  const failed = log.lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((record) => record.msg === 'room socket: message handling failed');
  expect(failed).toEqual([expect.objectContaining({ level: 'error', tenant: 'acme', roomId: 'guarded', participantId: 'web_thrower' })]);
  // The other participant is still in the room, and is told the thrower left.
  const left = await new Promise((resolve) => bystander.client.once('message', (data: Buffer) => resolve(JSON.parse(data.toString()))));
  expect(left).toMatchObject({ type: 'participant-left', participantId: 'web_thrower' });
  expect(bystander.client.readyState).toBe(WebSocket.OPEN);
  expect(room.participants().map((p) => p.id).sort()).toEqual(['ph_broken', 'web_bystander']);
});
