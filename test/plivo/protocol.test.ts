import fc from 'fast-check';
import { withExtraHeaders } from '../../ingest-container/src/calls/session';
import { extraHeadersOf, MAX_EXTRA_HEADERS, mediaFrameOf, mediaOf, parseMessage, playAudioFrame, playAudioMessage } from '../../ingest-container/src/plivo/protocol';
import { jsonText, jsonTree, PROTOTYPE_KEYS } from '../fuzz/support';

/**
 * The `media` fast path (`mediaFrameOf`, which reads a payload from a message's bytes without parsing it) against
 * the full path (`parseMessage` + `mediaOf`): for any frame it either declines, or gives exactly the payload the full
 * path would, for a message the full path takes as a `media` event. And it does not decline what Plivo really sends.
 */
const text = (s: string): Buffer => Buffer.from(s, 'utf8');

/** The full path's reading of a text frame: the payload of a `media` event, or null for anything else. */
function fullPath(data: Buffer): ReturnType<typeof mediaOf> | 'not media' {
  const message = parseMessage(data, false);
  if (typeof message === 'string' || message.event !== 'media') return 'not media';
  return mediaOf(message);
}

/** The fast path agrees with the full path on `data`, or declines it; true when it did not decline. */
function agrees(data: Buffer): boolean {
  const fast = mediaFrameOf(data, false);
  if (fast !== null) expect(fullPath(data)).toEqual(fast);
  return fast !== null;
}

const base64 = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((bytes) => Buffer.from(bytes).toString('base64'));
/** Payloads the full path takes (0-400 bytes, 160 often) and some it refuses. */
const payload = fc.oneof(
  { weight: 6, arbitrary: fc.oneof(fc.constant(160), fc.integer({ min: 0, max: 400 })).chain(base64) },
  { weight: 1, arbitrary: fc.constantFrom('', '***', 'AAA', 'A===', 'AA=A', '=', '==', 'AA==', 'AAA=', 'AAAA AAAA', 'AA\\/A', 'AA\\u0041', '\u00ff\u00ff\u00ff\u00ff', 'A'.repeat(217)) },
);
/** JSON whitespace, mostly none; and a no-break space, which is not JSON whitespace. */
const gap = fc.oneof({ weight: 40, arbitrary: fc.constant('') }, { weight: 8, arbitrary: fc.constantFrom(' ', '\n', '\t', '\r\n  ') }, { weight: 1, arbitrary: fc.constant('\u00a0') });
const any = jsonTree({ keys: ['event', 'media', 'payload', 'track'], values: ['media', 'inbound'], maxDepth: 3 });

/** A member as text (`"key":value`, whitespace around its parts); the key written with an escape now and then. */
const member = (key: fc.Arbitrary<string>, value: fc.Arbitrary<string>) =>
  fc
    .tuple(key, value, gap, gap, fc.nat({ max: 60 }))
    .map(([k, v, before, after, odd]) => `${before}${odd === 0 && k.length ? `"\\u${k.charCodeAt(0).toString(16).padStart(4, '0')}${k.slice(1)}"` : JSON.stringify(k)}${after}:${before}${v}${after}`);
const object = (list: fc.Arbitrary<string[]>) => fc.tuple(list, gap).map(([m, g]) => `{${m.join(',')}${g}}`);

/** `member`, or null, in those proportions. */
const present = (m: fc.Arbitrary<string>, there: number, missing: number) => fc.oneof({ weight: there, arbitrary: m }, { weight: missing, arbitrary: fc.constant(null) });
/** Members in any order: each of `often` nearly always there, each of `rarely` now and then (a second `payload`, say). */
const members = (often: fc.Arbitrary<string>[], rarely: fc.Arbitrary<string>[]) =>
  fc
    .tuple(...often.map((m) => present(m, 11, 1)), ...rarely.map((m) => present(m, 1, 9)))
    .map((list) => list.filter((m): m is string => m !== null))
    .chain((list) => fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }));
const payloadMember = member(
  fc.constant('payload'),
  // As JSON writes it, or raw (a backslash in it stays an escape).
  fc.tuple(payload, fc.boolean()).map(([p, raw]) => (raw ? `"${p}"` : JSON.stringify(p))),
);
/** `media` as Plivo sends it, its members in any order, sometimes one missing, repeated or anything. */
const mediaObject = object(
  members(
    [member(fc.constant('track'), fc.constant('"inbound"')), member(fc.constant('timestamp'), fc.nat().map((n) => `"${n}"`)), member(fc.constant('chunk'), fc.nat().map(String)), payloadMember],
    [payloadMember, member(fc.constantFrom('payload', 'track', ...PROTOTYPE_KEYS), any.map(jsonText))],
  ),
);
/** A message shaped as Plivo's `media` (tools/plivo-simulator.ts, tools/load-calls.ts), varied at every part. */
const plivoShaped = fc
  .tuple(
    object(
      members(
        [
          member(fc.constant('event'), fc.oneof({ weight: 12, arbitrary: fc.constant('"media"') }, { weight: 1, arbitrary: fc.constantFrom('"start"', '"Media"', '"med\\u0069a"', '"media "', 'null', '["media"]') })),
          member(fc.constant('sequenceNumber'), fc.oneof({ weight: 12, arbitrary: fc.nat().map(String) }, { weight: 1, arbitrary: fc.constantFrom('-0', '1e3', '1.5E-2', '01', '1.', '-', '+1', '.5', '1e', 'nul', 'tru', 'fals', '1e309') })),
          member(fc.constant('streamId'), fc.uuid().map((u) => JSON.stringify(u))),
          member(fc.constant('media'), mediaObject),
          member(fc.constant('extra_headers'), fc.string({ maxLength: 20, unit: 'binary' }).map((s) => JSON.stringify(s))),
        ],
        [member(fc.constantFrom('event', 'media', ...PROTOTYPE_KEYS), any.map(jsonText)), member(fc.constant('media'), mediaObject)],
      ),
    ),
    gap,
    gap,
  )
  .map(([message, before, after]) => `${before}${message}${after}`);

/** One byte of `message` replaced, dropped or doubled, or garbage after it. */
const mutated = fc
  .tuple(plivoShaped, fc.nat(), fc.constantFrom('replace', 'drop', 'double', 'append'), fc.integer({ min: 0, max: 255 }))
  .map(([message, at, how, byte]) => {
    const bytes = text(message);
    const i = at % bytes.length;
    if (how === 'append') return Buffer.concat([bytes, Buffer.from([byte])]);
    if (how === 'drop') return Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
    if (how === 'double') return Buffer.concat([bytes.subarray(0, i + 1), bytes.subarray(i)]);
    const copy = Buffer.from(bytes);
    copy[i] = byte;
    return copy;
  });

it('agrees with the full parser on any message, or declines it', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        any.map((tree) => text(jsonText(tree))),
        fc.array(fc.tuple(fc.constantFrom('event', 'media', 'payload'), any), { maxLength: 4 }).map((entries) => text(jsonText({ entries: [['event', { raw: '"media"' }], ...entries] }))),
        fc.string({ maxLength: 200, unit: 'binary' }).map(text),
        fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
      ),
      (data) => void agrees(data),
    ),
    { numRuns: 3000 },
  );
});

it('agrees with the full parser on messages shaped as Plivo sends them, and mutations of them', () => {
  let taken = 0;
  fc.assert(
    fc.property(fc.oneof(plivoShaped.map(text), mutated), (data) => {
      if (agrees(data)) taken++;
    }),
    { numRuns: 5000 },
  );
  // The fast path is taken, not only safe: a good share of the messages are plain media frames.
  expect(taken).toBeGreaterThan(500);
});

it('takes what Plivo sends, in any key order', () => {
  const frame = Buffer.alloc(160, 0x55).toString('base64');
  const members = ['"event":"media"', '"sequenceNumber":42', '"streamId":"b1f0c3a2-6a4e-4f0e-9b7d-1c2d3e4f5a6b"', `"media":{"track":"inbound","timestamp":"1700000000000","chunk":7,"payload":"${frame}"}`, '"extra_headers":"a=1;b=2"'];
  fc.assert(
    fc.property(fc.shuffledSubarray(members, { minLength: members.length }), (shuffled) => {
      expect(mediaFrameOf(text(`{${shuffled.join(',')}}`), false)).toEqual({ base64: frame, bytes: 160 });
    }),
  );
  expect(mediaFrameOf(text(` {"event" : "media" ,\n"media":{ "payload" : "AAA=" } }\r\n`), false)).toEqual({ base64: 'AAA=', bytes: 2 });
  expect(mediaFrameOf(text('{"event":"media","media":{"payload":""}}'), false)).toEqual({ base64: '', bytes: 0 });
});

it('leaves anything unusual to the full parser', () => {
  const p = Buffer.alloc(6, 1).toString('base64');
  for (const message of [
    `{"event":"media","event":"media","media":{"payload":"${p}"}}`,
    `{"event":"media","media":{"payload":"${p}"},"media":{"payload":"${p}"}}`,
    `{"event":"media","media":{"payload":"${p}","payload":"${p}"}}`,
    `{"event":"media","media":{"payload":"AA\\/A"}}`,
    `{"event":"media","media":{"payload":"${p}"}}x`,
    `{"event":"media","media":{"payload":"${p}"}}}`,
    `{"event":"media","media":["${p}"]}`,
    `{"event":"media","media":"${p}"}`,
    `{"\\u0065vent":"media","media":{"payload":"${p}"}}`,
    `{"event":"media","media":{"p\\u0061yload":"${p}"}}`,
    `{"event":"med\\u0069a","media":{"payload":"${p}"}}`,
    `{"media":{"payload":"${p}"}}`,
    `{"event":"media","media":{"payload":"AAA"}}`,
    `{"event":"media","media":{"payload":"A==="}}`,
    `{"event":"media","media":{}}`,
    `{"event":"media","media":{"payload":"${p}"},"n":01}`,
    `{"event":"media","media":{"payload":"${p}"},"deep":${'['.repeat(20)}${']'.repeat(20)}}`,
    `\ufeff{"event":"media","media":{"payload":"${p}"}}`,
  ])
    expect([message, mediaFrameOf(text(message), false)]).toEqual([message, null]);
  expect(mediaFrameOf(text(`{"event":"media","media":{"payload":"${p}"}}`), true)).toBeNull();
});

it('builds playAudio as the bytes of its text', () => {
  fc.assert(fc.property(payload, (p) => expect(playAudioFrame(p).toString('latin1')).toBe(playAudioMessage(p))));
});

it("reads start's extra_headers as name-value pairs, bounded in count and length, passing over what is no name=value", () => {
  expect(extraHeadersOf({ event: 'start', extra_headers: 'Account=A17;X-Campaign=spring' })).toEqual([
    ['Account', 'A17'],
    ['X-Campaign', 'spring'],
  ]);
  for (const none of [undefined, '', 42, { a: 1 }, ';;', 'novalue', '=x', 'a b=1']) expect(extraHeadersOf({ event: 'start', extra_headers: none })).toEqual([]);
  const many = Array.from({ length: 100 }, (_, i) => `h${i}=${'v'.repeat(1000)}`).join(';');
  const read = extraHeadersOf({ event: 'start', extra_headers: many });
  expect(read).toHaveLength(MAX_EXTRA_HEADERS);
  for (const [, value] of read) expect(value).toHaveLength(256);
  expect(extraHeadersOf({ event: 'start', extra_headers: `${'n'.repeat(59)}=1;${'n'.repeat(58)}=2` })).toEqual([['n'.repeat(58), '2']]);
});

it("makes a stream's extra headers the call's attributes sip.h.<name>, after its claim's and never over them", () => {
  const phone = { from: '+14155550100', to: '+14155550199', callUuid: 'u', callId: 'call_x' };
  expect(withExtraHeaders(phone, [])).toBe(phone);
  expect(withExtraHeaders(phone, [['Account', 'A17']])).toEqual({ ...phone, attributes: { 'sip.h.account': 'A17' } });
  expect(withExtraHeaders({ ...phone, attributes: { 'sip.h.account': 'claim' } }, [['Account', 'stream'], ['b', '2']]).attributes).toEqual({ 'sip.h.account': 'claim', 'sip.h.b': '2' });
  const full = Object.fromEntries(Array.from({ length: MAX_EXTRA_HEADERS }, (_, i) => [`a${i}`, 'x']));
  expect(withExtraHeaders({ ...phone, attributes: full }, [['more', '1']]).attributes).toEqual(full);
});
