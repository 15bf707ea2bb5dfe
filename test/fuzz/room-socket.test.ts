import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { WebSocket } from 'ws';
import { ROOM_ID } from '../../core/connectors/schema';
import { tone, toneLevel } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { RoomPeer, type RoomMessage } from '../../tools/room-peer';
import { waitFor } from '../support/local-process';
import { startTestStack, type TestStack } from '../support/stack';
import { jsonText, jsonTree, PROTOTYPE_KEYS, sleep } from './support';

/**
 * The room protocol (docs/room-protocol.md; ingest-container/src/room/socket.ts) under arbitrary frames from
 * a web participant, and its join (room id, sampleRate, kind, token in the URL) under arbitrary values, through
 * the local stack's media server. Every refused message gets an `error` reply and the participant stays; the
 * WebSocket layer's own limits close with their codes; refused joins get a status and a JSON message. The room
 * keeps working for the participant and the call that were there all along, and keeps no trace of the others.
 */
const ROOM = 'fuzz-room';
let t: TestStack;
let token: string;
let answerUrl: string;
let resident: RoomPeer;
let caller: SimulatedCall;
let media: { pid: number; health: string };
let joins = 0;

beforeAll(async () => {
  t = await startTestStack({ API_RATE_LIMIT: '1000000', API_BURST_LIMIT: '1000000', TENANT_RATE_LIMIT: '0' });
  token = await t.token('fuzz-room');
  const res = await t.api('POST', '/v2/connectors', { token, body: { provider: 'plivo', defaultRoomId: ROOM } });
  answerUrl = ((await res.json()) as { data: { webhookUrl: string } }).data.webhookUrl;
  const server = t.stack.mediaServers[0]!;
  media = { pid: server.pid, health: `${server.relayUrl.replace(/^ws/, 'http')}/health` };
  resident = await RoomPeer.join(t.stack.mediaUrl, ROOM, { token });
  caller = new SimulatedCall({ answerUrl });
  await caller.start();
  await resident.next('participant-joined');
});
afterAll(() => t.close());

/** A WebSocket frame as sent, printed short in a counterexample. */
interface Frame {
  readonly bytes: Buffer;
  readonly binary: boolean;
}
function frame(bytes: Buffer, binary: boolean): Frame {
  const shown = binary ? `binary(${bytes.length} bytes: ${bytes.subarray(0, 32).toString('hex')}…)` : `text(${JSON.stringify(bytes.subarray(0, 300).toString('latin1'))}${bytes.length > 300 ? `… ${bytes.length} bytes` : ''})`;
  return { bytes, binary, [fc.toStringMethod]: () => shown } as Frame;
}
const text = (s: string): Frame => frame(Buffer.from(s, 'utf8'), false);

/** Replaced by the resident web participant's id when sent: a real participant that is not a phone. */
const RESIDENT = '@RESIDENT@';
const control = fc
  .tuple(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('clear', 'send-dtmf', 'checkpoint', 'hangup', 'mute', 'unmute').map((type) => ({ raw: JSON.stringify(type) })) },
      { weight: 1, arbitrary: fc.constantFrom('CLEAR', 'error', 'joined', '', ...PROTOTYPE_KEYS).map((type) => ({ raw: JSON.stringify(type) })) },
      { weight: 1, arbitrary: jsonTree({ keys: [...PROTOTYPE_KEYS], maxDepth: 2 }) },
    ),
    fc.array(
      fc.oneof(
        fc.tuple(fc.constant('digits'), fc.oneof(fc.stringMatching(/^[0-9*#A-D]{1,32}$/), fc.constantFrom('', 'E', '1'.repeat(33), ' 1', '١')).map((s) => ({ raw: JSON.stringify(s) }))),
        fc.tuple(fc.constant('name'), fc.oneof(fc.string({ minLength: 1, maxLength: 130, unit: 'binary' }), fc.constantFrom('', 'x'.repeat(129), '😀'.repeat(128), '😀'.repeat(129))).map((s) => ({ raw: JSON.stringify(s) }))),
        fc.tuple(fc.constant('participantId'), fc.oneof(fc.constantFrom(RESIDENT, 'ph_', 'web_', 'x'.repeat(65)), fc.string({ maxLength: 70 })).map((s) => ({ raw: JSON.stringify(s) }))),
        fc.tuple(fc.constantFrom('digits', 'name', 'participantId', 'type', ...PROTOTYPE_KEYS), jsonTree({ maxDepth: 2 })),
      ),
      { maxLength: 3 },
    ),
  )
  .map(([type, fields]) => text(jsonText({ entries: [['type', type], ...fields] })));

/** Controls the protocol acts on, so both sides of the model are exercised. */
const validControl = fc
  .oneof(
    fc.constantFrom({ type: 'clear' }, { type: 'mute' }, { type: 'unmute' }),
    fc.stringMatching(/^[0-9*#A-D]{1,32}$/).map((digits) => ({ type: 'send-dtmf', digits })),
    fc.string({ minLength: 1, maxLength: 128 }).map((name) => ({ type: 'checkpoint', name, extra: [1] })),
  )
  .map((message) => text(JSON.stringify(message)));

const anyFrame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 8, arbitrary: control },
  { weight: 4, arbitrary: validControl },
  { weight: 2, arbitrary: jsonTree({ keys: ['type', 'digits', 'name'], values: ['clear', 'mute', 'checkpoint'] }).map((tree) => text(jsonText(tree))) },
  { weight: 2, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }).map(text) },
  { weight: 3, arbitrary: fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.constantFrom(640, 639, 1, 0)).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })).map((bytes) => frame(Buffer.from(bytes), true)) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes) => frame(Buffer.concat([Buffer.from(bytes), Buffer.from([0xed, 0xa0, 0x80])]), false)) },
  { weight: 1, arbitrary: fc.boolean().map((binary) => frame(Buffer.alloc(70_000, 0x20), binary)) },
);

interface Expected {
  readonly sent: number;
  /** `error` replies to the frames sent. */
  readonly errors: number;
  /** The close the last frame sent causes; null: still in the room. */
  readonly close: number | null;
}

const DIGITS = /^[0-9*#A-D]{1,32}$/;

/** Whether a control message is one the protocol acts on without a reply (a hangup in this suite never is). */
function acted(message: unknown): boolean {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return false;
  const m = message as { type?: unknown; digits?: unknown; name?: unknown };
  switch (m.type) {
    case 'clear':
    case 'mute':
    case 'unmute':
      return true;
    case 'send-dtmf':
      return typeof m.digits === 'string' && DIGITS.test(m.digits);
    case 'checkpoint':
      // Characters are code points: 128 emoji are 256 UTF-16 units and still a good name.
      return typeof m.name === 'string' && [...m.name].length >= 1 && [...m.name].length <= 128;
    default:
      return false;
  }
}

/** The protocol as documented, frame by frame, for a 16 kHz web participant sending far below its flood limits. */
function model(frames: readonly Frame[]): Expected {
  let errors = 0;
  for (const [i, f] of frames.entries()) {
    if (f.bytes.length > 64 * 1024) return { sent: i + 1, errors, close: 1009 };
    if (f.binary) {
      if (f.bytes.length % 2 !== 0) errors++;
      continue;
    }
    if (!isUtf8(f.bytes)) return { sent: i + 1, errors, close: 1007 };
    let message: unknown;
    try {
      message = JSON.parse(f.bytes.toString('utf8'));
    } catch {
      errors++;
      continue;
    }
    if (!acted(message)) errors++;
  }
  return { sent: frames.length, errors, close: null };
}

/** A raw participant: every text message it got, its close code. */
class Participant {
  readonly messages: RoomMessage[] = [];
  closeCode: number | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) this.messages.push(JSON.parse(data.toString('utf8')) as RoomMessage);
    });
    ws.on('close', (code) => (this.closeCode = code));
    ws.on('error', () => undefined);
  }

  static async join(): Promise<Participant> {
    const p = new Participant(new WebSocket(`${t.stack.mediaUrl}/rooms/${ROOM}?sampleRate=16000`, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false }));
    joins++;
    await p.until(() => p.messages.some((m) => m.type === 'joined'), 'joined');
    return p;
  }

  get errors(): RoomMessage[] {
    return this.messages.filter((m) => m.type === 'error');
  }

  get id(): string {
    return String(this.messages.find((m) => m.type === 'joined')?.participantId);
  }

  /** Waits (up to 5 s) until `done()`; a failure names what did not happen. */
  async until(done: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (close ${this.closeCode}, ${this.errors.length} errors)`);
      await sleep(5);
    }
  }
}

it('answers every refused frame with an error and keeps the participant, as the protocol says', async () => {
  let closes = 0;
  let actedOn = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(anyFrame, { maxLength: 15 }), async (frames) => {
      const p = await Participant.join();
      const sent = frames.map((f) => (f.binary ? f : { ...f, bytes: Buffer.from(f.bytes.toString('latin1').split(RESIDENT).join(String(resident.messages[0]?.participantId)), 'latin1') }));
      const expected = model(sent);
      for (const f of sent.slice(0, expected.sent)) p.ws.send(f.bytes, { binary: f.binary });
      if (expected.close !== null) {
        await p.until(() => p.closeCode !== null, `close ${expected.close}`);
        expect(p.closeCode).toBe(expected.close);
        // Frames that arrived with the one the WebSocket layer refused may find the socket closing: no reply then.
        expect(p.errors.length).toBeLessThanOrEqual(expected.errors);
        closes++;
        return;
      }
      // A last malformed message: its error reply says every frame before it was handled.
      p.ws.send('sentinel');
      await p.until(() => p.errors.length >= expected.errors + 1 || p.closeCode !== null, `${expected.errors + 1} error replies`);
      await sleep(10);
      expect(p.closeCode).toBeNull();
      expect(p.errors).toHaveLength(expected.errors + 1);
      for (const error of p.errors) expect(error).toEqual({ type: 'error', message: expect.stringMatching(/\S/) });
      actedOn += sent.length - expected.errors;
      p.ws.close(1000);
      await p.until(() => p.closeCode !== null, 'the close');
    }),
    { numRuns: 120, endOnFailure: true },
  );
  expect(closes).toBeGreaterThan(5);
  expect(actedOn).toBeGreaterThan(30);
}, 60_000);

it('refuses bad joins with a status and a JSON message, and seats good ones', async () => {
  const roomId = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(ROOM, 'r', 'a'.repeat(128), 'constructor') },
    { weight: 2, arbitrary: fc.constantFrom('a'.repeat(129), '-x', '_x', 'x y', '%41', '..x', 'x%2Fy', '__proto__') },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 20 }).map(encodeURIComponent).filter((s) => s !== '.' && s !== '..') },
  );
  const param = (good: readonly string[], bad: readonly string[]) =>
    fc.option(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: fc.constantFrom(...bad) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }), { nil: undefined, freq: 3 });
  const tokenParam = fc.option(fc.oneof({ weight: 4, arbitrary: fc.constant('@TOKEN@') }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }) }), { nil: undefined, freq: 6 });
  let seated = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(roomId, param(['8000', '16000', '24000', '48000'], ['44100', '0x3E80', '1.6e4', ' 16000', '', '16000abc']), param(['web', 'agent'], ['phone', 'WEB', '']), param(['1', '0'], ['true']), tokenParam, async (room, rate, kind, levels, tokenValue) => {
      const query = new URLSearchParams();
      if (rate !== undefined) query.set('sampleRate', rate);
      if (kind !== undefined) query.set('kind', kind);
      if (levels !== undefined) query.set('levels', levels);
      if (tokenValue !== undefined) query.set('token', tokenValue === '@TOKEN@' ? token : tokenValue);
      const answer = await openJoin(`${t.stack.mediaUrl}/rooms/${room}?${query.toString()}`);
      const rateOk = [8000, 16000, 24000, 48000].includes(Number(rate ?? 16000));
      const kindOk = kind === undefined || kind === 'web' || kind === 'agent';
      const expected = tokenValue !== '@TOKEN@' ? 401 : !ROOM_ID.test(room) || !rateOk || !kindOk ? 400 : 101;
      expect(answer.status).toBe(expected);
      if (expected === 101) {
        seated++;
        // The resident sees joins of its own room only.
        if (room === ROOM) joins++;
      } else {
        refused++;
        expect(JSON.parse(answer.body)).toEqual({ message: expect.stringMatching(/\S/), code: expected === 401 ? 'unauthorized' : 'bad_request' });
      }
    }),
    { numRuns: 150, endOnFailure: true },
  );
  expect(Math.min(seated, refused)).toBeGreaterThan(10);
}, 60_000);

/** Opens a join and closes it at once: the upgrade's status (101) or the refusal's status and body. */
function openJoin(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('error', () => undefined);
    ws.once('open', () => {
      ws.close(1000);
      ws.once('close', () => resolve({ status: 101, body: '' }));
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    setTimeout(() => reject(new Error(`no answer to the join ${url}`)), 5000).unref();
  });
}

it('keeps the room working for those there all along, and keeps nothing of the rest', async () => {
  expect(resident.closeCode).toBeNull();
  expect(caller.closeCode).toBeNull();
  // The resident saw each other participant come and go; the room holds the two it started with.
  await waitFor(() => (resident.messages.filter((m) => m.type === 'participant-left').length === joins ? true : undefined));
  expect(resident.messages.filter((m) => m.type === 'participant-joined')).toHaveLength(joins + 1);
  expect(resident.messages.filter((m) => m.type === 'error')).toEqual([]);
  const newcomer = await RoomPeer.join(t.stack.mediaUrl, ROOM, { token });
  const present = (newcomer.messages[0]?.participants as { id: string }[]).map((p) => p.id).sort();
  expect(present).toEqual([String(resident.messages[0]?.participantId), expect.stringMatching(/^ph_/)].sort());
  // The call speaks; the resident and the newcomer hear it.
  const heardBefore = resident.frames.length;
  await caller.play(tone(700, 0.8));
  await sleep(200);
  expect(toneLevel(resident.receivedPcm(heardBefore + 5), 700, 16000)).toBeGreaterThan(4000);
  expect(toneLevel(newcomer.receivedPcm(5), 700, 16000)).toBeGreaterThan(4000);
  await Promise.all([newcomer.close(), resident.close(), caller.hangup()]);
  await waitFor(async () => {
    const health = (await (await fetch(media.health)).json()) as { activeCalls: number; rooms: number };
    return health.activeCalls === 0 && health.rooms === 0 ? health : undefined;
  });
  expect(() => process.kill(media.pid, 0)).not.toThrow();
  expect(t.logLines.filter((line) => line.includes('"level":"error"') || line.includes('media server exited'))).toEqual([]);
});
