import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { WebSocket } from 'ws';
import { tone, toneLevel } from '../../tools/audio';
import { SimulatedCall } from '../../tools/plivo-simulator';
import { waitFor } from '../support/local-process';
import { startTestStack, type TestStack } from '../support/stack';
import { jsonText, jsonTree, PROTOTYPE_KEYS, sleep, type JsonTree } from './support';

/**
 * Plivo stream messages (ingest-container/src/plivo/stream.ts) under arbitrary frames, before and after
 * `start`, from a real WebSocket client through the local stack's media server. Each sequence is run
 * against a model of the protocol: the call goes on (bad messages counted, and the count logged when it
 * ends) or is closed with the code the model names; the media server never falls over, a healthy call
 * in the same room hears audio throughout and after, and the server holds nothing once calls are gone.
 */
let t: TestStack;
let answerUrl: string;
let listener: SimulatedCall;
let media: { pid: number; serverId: string; health: string };

beforeAll(async () => {
  t = await startTestStack({ API_RATE_LIMIT: '1000000', API_BURST_LIMIT: '1000000', TENANT_RATE_LIMIT: '0' });
  const token = await t.token('fuzz-stream');
  const res = await t.api('POST', '/v2/connectors', { token, body: { provider: 'plivo', defaultRoomId: 'fuzz-stream' } });
  answerUrl = ((await res.json()) as { data: { webhookUrl: string } }).data.webhookUrl;
  const server = t.stack.mediaServers[0]!;
  media = { pid: server.pid, serverId: server.serverId, health: `${server.relayUrl.replace(/^ws/, 'http')}/health` };
  listener = new SimulatedCall({ answerUrl, from: '14155550100' });
  await listener.start();
});
afterAll(() => t.close());

/** A WebSocket frame as sent: text (its bytes, valid UTF-8 or not) or binary. */
interface Frame {
  readonly bytes: Buffer;
  readonly binary: boolean;
}

/** Replaced by the call's CallUUID when a sequence is sent: a `start` for the right call. */
const CALL = '@CALL@';

/** A frame that prints short in a counterexample (a 70 KB frame would print as 70,000 numbers). */
function frame(bytes: Buffer, binary: boolean): Frame {
  const shown = binary ? `binary(${bytes.length} bytes: ${bytes.subarray(0, 32).toString('hex')}…)` : `text(${JSON.stringify(bytes.subarray(0, 300).toString('latin1'))}${bytes.length > 300 ? `… ${bytes.length} bytes` : ''})`;
  return { bytes, binary, [fc.toStringMethod]: () => shown } as Frame;
}
const text = (s: string): Frame => frame(Buffer.from(s, 'utf8'), false);
const eventName = fc.oneof(
  // Mostly events the call goes on after; `stop` (and `start` before it) end or settle a sequence.
  { weight: 6, arbitrary: fc.constantFrom('media', 'media', 'media', 'dtmf', 'dtmf', 'playedStream', 'playedStream', 'clearedAudio', 'start', 'stop') },
  { weight: 1, arbitrary: fc.constantFrom('checkpoint', 'playAudio', 'clearAudio', 'Start', 'MEDIA', '', ...PROTOTYPE_KEYS).map((s) => ({ raw: JSON.stringify(s) })) },
  { weight: 2, arbitrary: jsonTree({ keys: [...PROTOTYPE_KEYS], maxDepth: 2 }) },
  // An object whose own keys shadow Object.prototype's methods: whatever turns the event into text must not trip on it.
  { weight: 2, arbitrary: fc.array(fc.tuple(fc.constantFrom(...PROTOTYPE_KEYS), jsonTree({ maxDepth: 1 })), { minLength: 1, maxLength: 3 }).map((entries) => ({ entries })) },
);
/** base64 of 0-600 bytes (160, 161 and 162 often: one frame, and the two lengths that also encode to 216 characters). */
const payload = fc.oneof(
  fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constantFrom(160, 161, 162, 320, 100)).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })).map((bytes) => Buffer.from(bytes).toString('base64')),
  fc.constantFrom('***', 'AAA', 'A===', 'AA=A', '=', 'AAAA AAAA', '\u00ff\u00ff\u00ff\u00ff', 'A'.repeat(217)),
);
const field = (name: string, inner: fc.Arbitrary<JsonTree>): fc.Arbitrary<[string, JsonTree]> =>
  fc.oneof({ weight: 3, arbitrary: inner }, { weight: 1, arbitrary: jsonTree({ maxDepth: 2 }) }).map((value) => [name, value]);
const plivoMessage = fc
  .tuple(
    eventName,
    fc.array(
      fc.oneof(
        field('start', fc.tuple(fc.oneof(fc.constant(CALL), fc.string({ maxLength: 40 }), fc.constant(`${CALL} `)), fc.string({ maxLength: 20 })).map(([callId, streamId]) => ({ raw: JSON.stringify({ callId, streamId }) }))),
        field('media', payload.map((p) => ({ raw: JSON.stringify({ track: 'inbound', payload: p }) }))),
        field('dtmf', fc.oneof(fc.constantFrom(...'0123456789*#ABCD'), fc.constantFrom('12', 'E', 'a', '', ' 1')).map((digit) => ({ raw: JSON.stringify({ digit }) }))),
        field('name', fc.string({ maxLength: 40 }).map((s) => ({ raw: JSON.stringify(s) }))),
        fc.tuple(fc.constantFrom(...PROTOTYPE_KEYS, 'sequenceNumber', 'streamId', 'extra_headers'), jsonTree({ maxDepth: 2 })),
      ),
      { maxLength: 4 },
    ),
  )
  .map(([event, fields]): Frame => text(jsonText({ entries: [['event', typeof event === 'string' ? { raw: JSON.stringify(event) } : event], ...fields] })));

const anyFrame: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 10, arbitrary: plivoMessage },
  { weight: 2, arbitrary: jsonTree({ keys: ['event', 'media', 'start', 'dtmf', 'payload'], values: ['media', 'start', 'stop', 'dtmf'] }).map((tree) => text(jsonText(tree))) },
  { weight: 2, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }).map(text) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 400 }).map((bytes) => frame(Buffer.from(bytes), true)) },
  // Text frames that are not UTF-8, and frames over the 64 KB limit: the WebSocket layer's own closes.
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes) => frame(Buffer.concat([Buffer.from(bytes), Buffer.from([0xc3, 0x28])]), false)),
      fc.boolean().map((binary) => frame(Buffer.alloc(70_000, 0x7b), binary)),
    ),
  },
);
const startFrame = text(JSON.stringify({ event: 'start', start: { callId: CALL, streamId: 'fuzz' } }));
/** What a stream may send before `start` without being closed: frames that are not JSON objects. */
const unreadable: fc.Arbitrary<Frame> = fc.oneof(
  fc.uint8Array({ maxLength: 400 }).map((bytes) => frame(Buffer.from(bytes), true)),
  fc.string({ maxLength: 100, unit: 'binary' }).map(text),
  fc.oneof(fc.string(), fc.integer(), fc.constant(null)).map((value) => text(JSON.stringify(value))),
);
/** Garbage before `start` (mostly unreadable; most sequences then start), and garbage after. */
const sequence = fc
  .tuple(fc.array(fc.oneof({ weight: 3, arbitrary: unreadable }, { weight: 1, arbitrary: anyFrame }), { maxLength: 3 }), fc.boolean(), fc.boolean(), fc.array(anyFrame, { maxLength: 8 }))
  .map(([before, start, moreStart, after]) => [...before, ...(start || moreStart ? [startFrame] : []), ...after]);

type EndReason = 'caller-hangup' | 'call-mismatch' | 'error' | 'flood';
/** A frame the WebSocket layer refuses (over 64 KB, text not UTF-8) ends the call as the peer's fault or as its hangup. */
const PROTOCOL_FAULT: readonly EndReason[] = ['error', 'caller-hangup'];

interface Expected {
  /** How many frames of the sequence are sent: those up to the first the server closes on. */
  readonly sent: number;
  /** Close code and the hangup reasons it may be recorded with, once those are sent; null: the call is still up. */
  readonly close: { code: number; reasons: readonly EndReason[] } | null;
  readonly joined: boolean;
  readonly bad: number;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The stream protocol as documented, frame by frame: what the server must do with `frames`. */
function model(frames: readonly Frame[], callUuid: string): Expected {
  let joined = false;
  let bad = 0;
  for (const [i, f] of frames.entries()) {
    const end = (code: number, ...reasons: EndReason[]): Expected => ({ sent: i + 1, close: { code, reasons }, joined, bad });
    if (f.bytes.length > 64 * 1024) return end(1009, ...PROTOCOL_FAULT);
    if (f.binary) {
      bad++;
      continue;
    }
    if (!isUtf8(f.bytes)) return end(1007, ...PROTOCOL_FAULT);
    let message: unknown;
    try {
      message = JSON.parse(f.bytes.toString('utf8'));
    } catch {
      bad++;
      continue;
    }
    if (typeof message !== 'object' || message === null) {
      bad++;
      continue;
    }
    const m = message as { event?: unknown; start?: { callId?: unknown }; media?: { payload?: unknown }; dtmf?: { digit?: unknown }; name?: unknown };
    if (m.event === 'start') {
      if (joined) bad++;
      else if (m.start?.callId === callUuid) joined = true;
      else return end(4403, 'call-mismatch');
      continue;
    }
    if (!joined) {
      if (m.event !== 'stop') return end(4400, 'error');
      continue;
    }
    const payloadOf = m.media?.payload;
    if (m.event === 'stop') return end(1000, 'caller-hangup');
    if (m.event === 'media' && !(typeof payloadOf === 'string' && payloadOf.length % 4 === 0 && BASE64.test(payloadOf))) bad++;
    if (m.event === 'dtmf' && !(typeof m.dtmf?.digit === 'string' && /^[0-9*#A-D]$/.test(m.dtmf.digit))) bad++;
    if (m.event === 'playedStream' && typeof m.name !== 'string') bad++;
  }
  return { sent: frames.length, close: null, joined, bad };
}

const withCall = (f: Frame, callUuid: string): Frame => (f.binary ? f : { ...f, bytes: Buffer.from(f.bytes.toString('latin1').split(CALL).join(callUuid), 'latin1') });

/** Opens a call's stream as Plivo does (the Answer URL, then the upgrade), without sending `start`. */
async function openStream(): Promise<{ call: SimulatedCall; ws: WebSocket; closed: Promise<{ code: number; reason: string }> }> {
  const call = new SimulatedCall({ answerUrl, from: '14155550177' });
  const ws = new WebSocket(await call.answer(), { perMessageDeflate: false });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`stream upgrade refused: ${res.statusCode}`)));
  });
  return { call, ws, closed };
}

/** `promise`, or a failure naming what did not happen within 5 s (a property that hangs reports nothing). */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 5000)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The media server's 'plivo stream closed' record of a call. */
const closedRecord = (callUuid: string) =>
  waitFor(() => {
    const line = t.logLines.find((l) => l.includes('"msg":"plivo stream closed"') && l.includes(`"callUuid":"${callUuid}"`));
    return line === undefined ? undefined : (JSON.parse(line) as { reason: string; badMessages: number; framesIn: number });
  });

async function health(): Promise<{ status: string; serverId: string; activeCalls: number; rooms: number }> {
  return (await fetch(media.health)).json() as Promise<{ status: string; serverId: string; activeCalls: number; rooms: number }>;
}

it('survives any sequence of frames, before and after start, as the protocol says', async () => {
  let closes = 0;
  let survivors = 0;
  await fc.assert(
    fc.asyncProperty(sequence, async (frames) => {
      const { call, ws, closed } = await openStream();
      const sent = frames.map((frame) => withCall(frame, call.callUuid));
      const expected = model(sent, call.callUuid);
      for (const f of sent.slice(0, expected.sent)) ws.send(f.bytes, { binary: f.binary });
      if (expected.close) {
        const { code, reason } = await within(closed, `close ${expected.close.code}`);
        expect(code).toBe(expected.close.code);
        // Our own closes (4xxx) say why.
        if (code >= 4000) expect(reason.length).toBeGreaterThan(0);
        closes++;
      } else {
        // Still up: it can still start (if it had not) and end cleanly, with everything before counted.
        if (!expected.joined) ws.send(withCall(startFrame, call.callUuid).bytes, { binary: false });
        ws.send(JSON.stringify({ event: 'stop' }));
        expect(await within(closed, 'the close after stop')).toEqual({ code: 1000, reason: 'stream stopped' });
        survivors++;
      }
      const record = await closedRecord(call.callUuid);
      expect(expected.close?.reasons ?? ['caller-hangup']).toContain(record.reason);
      expect(record.badMessages).toBe(expected.bad);
    }),
    { numRuns: 120, endOnFailure: true },
  );
  // Both outcomes were exercised (each about a third of the runs or more).
  expect(Math.min(closes, survivors)).toBeGreaterThan(15);
  // The listener heard nothing it could not play: every frame one 20 ms mu-law frame, and it is still there.
  expect(listener.closeCode).toBeNull();
  expect(listener.received.filter((frame) => frame.mulaw.length !== 160)).toEqual([]);
}, 90_000);

it('passes media payloads of any length on as whole 20 ms frames', async () => {
  const heardBefore = listener.received.length;
  const length = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(160, 161, 162, 159, 320) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 500 }) });
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(length, fc.integer({ min: 0, max: 254 })), { minLength: 1, maxLength: 6 }), async (payloads) => {
      const { call, ws, closed } = await openStream();
      ws.send(withCall(startFrame, call.callUuid).bytes, { binary: false });
      const before = listener.received.length;
      // Not silence (0xff), which the room skips.
      for (const [n, fill] of payloads) ws.send(JSON.stringify({ event: 'media', media: { payload: Buffer.alloc(n, fill).toString('base64') } }));
      await sleep(20 * (payloads.length + 4));
      ws.send(JSON.stringify({ event: 'stop' }));
      expect((await within(closed, 'the close after stop')).code).toBe(1000);
      const record = await closedRecord(call.callUuid);
      expect(record.badMessages).toBe(0);
      // Re-cut into 160-byte frames, whatever the payloads' lengths; what is left over is not a frame.
      expect(record.framesIn).toBe(Math.floor(payloads.reduce((sum, [n]) => sum + n, 0) / 160));
      expect(listener.received.slice(before).map((f) => f.mulaw.length).filter((n) => n !== 160)).toEqual([]);
    }),
    { numRuns: 40, endOnFailure: true },
  );
  expect(listener.received.length - heardBefore).toBeGreaterThan(20);
});

it('closes a media flood with 4429, and refuses frames over 64 KB with 1009', async () => {
  const flood = await openStream();
  flood.ws.send(withCall(startFrame, flood.call.callUuid).bytes, { binary: false });
  const big = Buffer.alloc(45_000, 0x55).toString('base64');
  for (let i = 0; i < 3; i++) flood.ws.send(JSON.stringify({ event: 'media', media: { payload: big } }));
  expect((await within(flood.closed, 'the flood close')).code).toBe(4429);
  expect((await closedRecord(flood.call.callUuid)).reason).toBe('flood');
});

it('keeps the server up and the room working, and holds nothing once the calls are gone', async () => {
  const before = await health();
  expect(before).toMatchObject({ status: 'serving', serverId: media.serverId, activeCalls: 1, rooms: 1 });
  expect(() => process.kill(media.pid, 0)).not.toThrow();
  // A new caller speaks: the listener, there since before the fuzzing, hears it.
  const speaker = new SimulatedCall({ answerUrl, from: '14155550199' });
  await speaker.start();
  const heardBefore = listener.received.length;
  await speaker.play(tone(900, 0.8));
  await sleep(200);
  const heard = listener.receivedPcm().subarray((heardBefore + 5) * 160);
  expect(toneLevel(heard, 900)).toBeGreaterThan(4000);
  await Promise.all([speaker.hangup(), listener.hangup()]);
  await waitFor(async () => {
    const now = await health();
    return now.activeCalls === 0 && now.rooms === 0 ? now : undefined;
  });
  expect(t.logLines.filter((line) => line.includes('"level":"error"'))).toEqual([]);
  expect(t.logLines.filter((line) => line.includes('media server exited'))).toEqual([]);
});
