import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { AgentServer, dialRoom, type AgentKitError, type AgentSession, type Joined } from '../../agent-kit/src';

/**
 * The agent kit against real sockets on port 0: a test "bridge" dials the kit's AgentServer (or a test room server
 * takes the kit's dialRoom) and speaks the room protocol's server side, byte for byte.
 */

const JOINED = {
  type: 'joined',
  participantId: 'ag_1',
  roomId: 'r1',
  sampleRate: 16000,
  participants: [{ id: 'ph_1', kind: 'phone', phone: { from: '+14155550100', to: '14155550199', callUuid: 'uuid-1', callId: 'call_1' } }],
  call: { from: '+14155550100', to: '14155550199', callUuid: 'uuid-1', callId: 'call_1' },
  metadata: { persona: 'support' },
};

/** The bridge's end of one dial: everything the agent sent, in order. */
interface Bridge {
  readonly ws: WebSocket;
  readonly received: (Buffer | Record<string, unknown>)[];
  readonly socket: Socket;
  frames(): Buffer[];
  texts(): Record<string, unknown>[];
}

let server: AgentServer | undefined;
const bridges: WebSocket[] = [];
afterEach(async () => {
  for (const ws of bridges.splice(0)) ws.terminate();
  await server?.close();
  server = undefined;
});

const until = async (probe: () => boolean, what: string, timeoutMs = 3000): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

/** Starts an agent server, dials it as the bridge does and sends `joined` (unless `joined` is null): the session and the bridge. */
async function dial(options: Parameters<typeof AgentServer.listen>[0] = {}, joined: object | null = JOINED): Promise<{ session: AgentSession; bridge: Bridge }> {
  server = await AgentServer.listen({ port: 0, ...options });
  const sessionCame = new Promise<AgentSession>((resolve) => server?.once('session', resolve));
  const ws = new WebSocket(server.url);
  bridges.push(ws);
  const received: Bridge['received'] = [];
  ws.on('message', (data: Buffer, isBinary) => received.push(isBinary ? data : (JSON.parse(data.toString()) as Record<string, unknown>)));
  let socket: Socket | undefined;
  ws.once('upgrade', (response) => (socket = response.socket));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const session = await sessionCame;
  if (joined) {
    ws.send(JSON.stringify(joined));
    await session.ready;
  }
  const bridge: Bridge = {
    ws,
    received,
    socket: socket as Socket,
    frames: () => received.filter((m): m is Buffer => Buffer.isBuffer(m)),
    texts: () => received.filter((m): m is Record<string, unknown> => !Buffer.isBuffer(m)),
  };
  return { session, bridge };
}

const samples = (count: number, value = 1000) => new Int16Array(count).fill(value);

describe('AgentServer', () => {
  it('takes the bridge’s dial: typed events from joined on, the participants kept, audio both ways', async () => {
    server = await AgentServer.listen({ port: 0 });
    const events: unknown[] = [];
    const sessionCame = new Promise<AgentSession>((resolve) =>
      server?.once('session', (session) => {
        // Listeners attached in the `session` handler miss nothing: `joined` is the first event.
        session.on('joined', (joined) => events.push(['joined', joined]));
        session.on('participant-joined', (p) => events.push(['participant-joined', p.id]));
        session.on('participant-left', (left) => events.push(['participant-left', left]));
        session.on('dtmf', (dtmf) => events.push(['dtmf', dtmf]));
        session.on('checkpoint-played', (played) => events.push(['checkpoint-played', played]));
        session.on('audio', (pcm) => events.push(['audio', pcm.length, pcm[0]]));
        resolve(session);
      }),
    );
    const ws = new WebSocket(server.url);
    bridges.push(ws);
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify(JOINED));
    const session = await sessionCame;
    const frame = samples(320, -1234);
    ws.send(Buffer.from(frame.buffer), { binary: true });
    ws.send(JSON.stringify({ type: 'participant-joined', participant: { id: 'web_1', kind: 'web' } }));
    ws.send(JSON.stringify({ type: 'dtmf', participantId: 'ph_1', digit: '5' }));
    ws.send(JSON.stringify({ type: 'checkpoint-played', participantId: 'ph_1', name: 'greeting' }));
    ws.send(JSON.stringify({ type: 'participant-left', participantId: 'web_1', reason: 'left' }));
    await until(() => events.length === 6, 'six events');
    // The event carries the message's fields but its type (toEqual takes an undefined field as absent).
    const joined = { ...JOINED, type: undefined };
    expect(events).toEqual([
      ['joined', joined],
      ['audio', 320, -1234],
      ['participant-joined', 'web_1'],
      ['dtmf', { participantId: 'ph_1', digit: '5' }],
      ['checkpoint-played', { participantId: 'ph_1', name: 'greeting' }],
      ['participant-left', { participantId: 'web_1', reason: 'left' }],
    ]);
    expect(session.sampleRate).toBe(16000);
    expect([...session.participants.keys()]).toEqual(['ph_1']);
    const closed = new Promise((resolve) => session.once('close', resolve));
    ws.close(1000, 'call ended');
    expect(await closed).toEqual({ code: 1000, reason: 'call ended' });
  });

  it('refuses a dial `authorize` turns down with 401 before any socket opens', async () => {
    server = await AgentServer.listen({ port: 0, authorize: (request) => request.url === '/agent?key=secret' });
    const sessions: AgentSession[] = [];
    server.on('session', (session) => sessions.push(session));
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const ws = new WebSocket(`${server?.url}/agent?key=wrong`);
      ws.once('unexpected-response', (_request, response) => resolve(response.statusCode));
      ws.once('open', () => reject(new Error('opened')));
    });
    expect(status).toBe(401);
    const ok = new WebSocket(`${server.url}/agent?key=secret`);
    bridges.push(ok);
    await new Promise((resolve) => ok.once('open', resolve));
    await until(() => sessions.length === 1, 'the session');
  });

  it('refuses bad session options before it listens', async () => {
    await expect(AgentServer.listen({ maxAheadMs: 60_001 })).rejects.toThrow('maxAheadMs must be 20-60000, not 60001');
    await expect(AgentServer.listen({ highWaterMark: 0 })).rejects.toThrow('highWaterMark must be over 0, not 0');
  });

  it('close() closes its sessions with 1001 and is safe to call twice', async () => {
    const { bridge } = await dial();
    const code = new Promise<number>((resolve) => bridge.ws.once('close', resolve));
    await Promise.all([server?.close(), server?.close()]);
    expect(await code).toBe(1001);
  });
});

describe('AgentSession: audio out', () => {
  it('cuts PCM into 20 ms frames, a remainder padded with silence before a checkpoint that follows its audio', async () => {
    const { session, bridge } = await dial();
    // 16 kHz: 320 samples a frame. 500 + 300 samples: two whole frames, 160 samples left over.
    expect(await session.send(samples(500, 1))).toBe(true);
    expect(await session.send(samples(300, 2))).toBe(true);
    session.checkpoint('greeting');
    await until(() => bridge.texts().length === 1, 'the checkpoint');
    const frames = bridge.frames();
    expect(frames.map((f) => f.length)).toEqual([640, 640, 640]);
    const last = new Int16Array(new Uint8Array(frames[2]!).buffer);
    expect([last[0], last[159], last[160], last[319]]).toEqual([2, 2, 0, 0]);
    expect(bridge.received.at(-1)).toEqual({ type: 'checkpoint', name: 'greeting' });
  });

  it('paces audio to maxAheadMs ahead of real time: send resolves as the last of it may go', async () => {
    const { session, bridge } = await dial({ maxAheadMs: 200 });
    const arrivals: number[] = [];
    bridge.ws.on('message', (_data, isBinary) => isBinary && arrivals.push(performance.now()));
    const started = performance.now();
    expect(await session.send(samples(16000))).toBe(true); // 1 s
    const took = performance.now() - started;
    // 50 frames, 200 ms of them at once: the rest at real time (frame i goes once it is 200 ms ahead).
    expect(took).toBeGreaterThan(750);
    expect(took).toBeLessThan(1300);
    await until(() => arrivals.length === 50, 'all 50 frames');
    expect(arrivals.slice(0, 10).every((at) => at - started < 50)).toBe(true);
    expect(arrivals.filter((at, i) => at - started < (i + 1) * 20 - 200 - 5)).toEqual([]);
  });

  it('holds audio back while the socket has over highWaterMark unsent, and sends it all once the peer reads again', async () => {
    const { session, bridge } = await dial({ maxAheadMs: 60_000, highWaterMark: 64 * 1024 }, { ...JOINED, sampleRate: 48000 });
    bridge.socket.pause();
    // A minute at 48 kHz: 5.8 MB, more than the kernel takes while the peer does not read.
    let done = false;
    const sent = session.send(samples(48000 * 60)).then((all) => {
      done = true;
      return all;
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(done).toBe(false);
    bridge.socket.resume();
    expect(await sent).toBe(true);
    await until(() => bridge.frames().length === 3000, 'every frame', 10_000);
  }, 20_000);

  it('clear() drops the audio and checkpoints not sent yet (send resolves false) and tells the room', async () => {
    const { session, bridge } = await dial({ maxAheadMs: 100 });
    const sent = session.send(samples(32000)); // 2 s
    session.checkpoint('never');
    await new Promise((resolve) => setTimeout(resolve, 150));
    session.clear();
    expect(await sent).toBe(false);
    await until(() => bridge.texts().length === 1, 'the clear');
    const framesAtClear = bridge.received.findIndex((m) => !Buffer.isBuffer(m));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(bridge.texts()).toEqual([{ type: 'clear' }]);
    expect(bridge.received.length).toBe(framesAtClear + 1);
    expect(framesAtClear).toBeLessThan(20);
    // The next send starts afresh.
    expect(await session.send(samples(320))).toBe(true);
  });

  it('send() before joined resolves false with an error event; controls go out as the protocol spells them; hangup() names the call it was dialled for', async () => {
    const { session, bridge } = await dial({}, null);
    const errors: AgentKitError[] = [];
    session.on('error', (err) => errors.push(err));
    expect(await session.send(samples(320))).toBe(false);
    expect(errors.map((e) => e.code)).toEqual(['not_joined']);
    expect(() => session.hangup()).toThrow('this session has no call: name the participant to hang up');
    bridge.ws.send(JSON.stringify(JOINED));
    await session.ready;
    session.sendDtmf('12#');
    session.hangup();
    session.hangup('ph_other');
    await until(() => bridge.texts().length === 3, 'three controls');
    expect(bridge.texts()).toEqual([
      { type: 'send-dtmf', digits: '12#' },
      { type: 'hangup', participantId: 'ph_1' },
      { type: 'hangup', participantId: 'ph_other' },
    ]);
    await Promise.all([session.close(), session.close()]);
    expect(session.open).toBe(false);
    expect(session.sendDtmf('1')).toBe(false);
    expect(await session.send(samples(320))).toBe(false);
  });
});

describe('AgentSession: what the server sends', () => {
  it('reports bad messages, refusals and throwing listeners as error events and goes on', async () => {
    const { session, bridge } = await dial();
    const errors: AgentKitError[] = [];
    session.on('error', (err) => errors.push(err));
    const digits: string[] = [];
    session.on('dtmf', ({ digit }) => {
      digits.push(digit);
      if (digit === '1') throw new Error('a listener bug');
    });
    bridge.ws.send('not json');
    bridge.ws.send('[1, 2]');
    bridge.ws.send(JSON.stringify({ type: 'dance' }));
    bridge.ws.send(JSON.stringify({ type: 'dtmf', participantId: 'ph_1' }));
    bridge.ws.send(JSON.stringify({ type: 'joined', participantId: 'ag_1', roomId: 'r1', sampleRate: 11025, participants: [] }));
    bridge.ws.send(JSON.stringify({ type: 'participant-joined', participant: { id: 'x', kind: 'robot' } }));
    bridge.ws.send(Buffer.alloc(3), { binary: true });
    bridge.ws.send(JSON.stringify({ type: 'error', message: 'digits must be 1-32 of 0-9 * # A-D' }));
    bridge.ws.send(JSON.stringify({ type: 'dtmf', participantId: 'ph_1', digit: '1' }));
    bridge.ws.send(JSON.stringify({ type: 'dtmf', participantId: 'ph_1', digit: '2' }));
    await until(() => digits.length === 2, 'both digits');
    expect(errors.map((e) => [e.code, e.message])).toEqual([
      ['bad_message', 'a text message that is not JSON'],
      ['bad_message', 'a text message that is not a JSON object'],
      ['bad_message', 'an unknown message type "dance"'],
      ['bad_message', '"dtmf": "digit" must be a string'],
      ['bad_message', '"joined": "sampleRate" must be one of 8000, 16000, 24000, 48000'],
      ['bad_message', '"participant-joined": a participant\'s "kind" must be phone, web or agent'],
      ['bad_message', 'an audio message of 3 bytes: PCM16 takes an even number'],
      ['refused', 'digits must be 1-32 of 0-9 * # A-D'],
      ['listener', 'a "dtmf" listener threw: a listener bug'],
    ]);
    expect(digits).toEqual(['1', '2']);
    expect((session.joined as Joined).sampleRate).toBe(16000);
    expect(session.open).toBe(true);
  });

  it('without an error listener, a bad message is dropped rather than thrown out of the socket', async () => {
    const { session, bridge } = await dial();
    const digits: string[] = [];
    session.on('dtmf', ({ digit }) => digits.push(digit));
    bridge.ws.send('not json');
    bridge.ws.send(JSON.stringify({ type: 'dtmf', participantId: 'ph_1', digit: '9' }));
    await until(() => digits.length === 1, 'the digit');
    expect(session.open).toBe(true);
  });
});

describe('dialRoom', () => {
  let room: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (room ? room.close(() => resolve()) : resolve())));

  /** A room server on port 0: refuses with `refusal` (status, JSON body), or takes the join and sends `joined`. */
  async function roomServer(refusal?: { status: number; body: object }): Promise<{ url: string; requests: { url?: string; authorization?: string }[] }> {
    const requests: { url?: string; authorization?: string }[] = [];
    const wss = new WebSocketServer({ noServer: true });
    room = createServer();
    room.on('upgrade', (request, socket, head) => {
      requests.push({ url: request.url, authorization: request.headers.authorization });
      if (refusal) {
        const body = JSON.stringify(refusal.body);
        socket.end(`HTTP/1.1 ${refusal.status} Refused\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        bridges.push(ws);
        ws.send(JSON.stringify({ ...JOINED, roomId: 'support-42', sampleRate: 24000, participants: [], call: undefined }));
      });
    });
    await new Promise<void>((resolve) => room?.listen(0, '127.0.0.1', resolve));
    return { url: `ws://127.0.0.1:${(room.address() as AddressInfo).port}`, requests };
  }

  it('joins /rooms/{roomId} as an agent with the token in the header; resolves once joined', async () => {
    const { url, requests } = await roomServer();
    const session = await dialRoom(`${url}/`, { token: 'tok', roomId: 'support-42', sampleRate: 24000 });
    expect(requests).toEqual([{ url: '/rooms/support-42?kind=agent&sampleRate=24000', authorization: 'Bearer tok' }]);
    expect(session.joined).toMatchObject({ roomId: 'support-42', sampleRate: 24000 });
    await session.close();
  });

  it('a refused join rejects with the status and the server’s code', async () => {
    const { url } = await roomServer({ status: 403, body: { message: 'Joining as an agent takes allow_agent', code: 'forbidden' } });
    await expect(dialRoom(url, { token: 'tok', roomId: 'r1' })).rejects.toMatchObject({
      code: 'join_refused',
      status: 403,
      serverCode: 'forbidden',
      message: 'the room join was refused: Joining as an agent takes allow_agent',
    });
  });
});
