import fc from 'fast-check';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WaveFile } from 'wavefile';
import { decodeWav, MAX_WAV_SECONDS, tone, toneLevel, WavError } from '../../tools/audio';
import { NODE_TSX, ROOT } from '../support/local-process';

/**
 * The simulator's WAV input (tools/audio.ts decodeWav, behind `npm run call -- --play`) under arbitrary bytes,
 * arbitrary header fields and truncation: audio, or a WavError that says what is wrong; never another error,
 * never work out of proportion to the file (a header is not a way to ask for gigabytes).
 */
type Outcome = { samples: Int16Array } | { refused: string };

function decode(bytes: Uint8Array, limitMs = 1000): Outcome {
  // CPU time, not wall time: a busy machine's wait for a core is not the decoder's work.
  const started = process.cpuUsage();
  try {
    return { samples: decodeWav(bytes) };
  } catch (err) {
    // Anything but a WavError (a RangeError from a header's numbers, say) fails the property here.
    if (!(err instanceof WavError)) throw err;
    expect(err.message).toMatch(/\S/);
    return { refused: err.message };
  } finally {
    // Work in proportion to the input, whatever its header claims: a few KB take milliseconds.
    const used = process.cpuUsage(started);
    expect((used.user + used.system) / 1000).toBeLessThan(limitMs);
  }
}

interface Header {
  readonly format: number;
  readonly subFormat: number;
  readonly channels: number;
  readonly rate: number;
  readonly bits: number;
  readonly fmtSize: number;
  /** Chunks before `fmt `, odd sizes included (RIFF pads them). */
  readonly junk: readonly Uint8Array[];
  /** What the `data` header declares; null: the bytes' own length. */
  readonly declared: number | null;
  readonly data: Uint8Array;
}

function chunk(id: string, body: Uint8Array, declared = body.length): Buffer {
  const head = Buffer.alloc(8);
  head.write(id, 0, 'latin1');
  head.writeUInt32LE(declared, 4);
  return Buffer.concat([head, body, Buffer.alloc(body.length % 2)]);
}

function wav(h: Header): Buffer {
  const fmt = Buffer.alloc(Math.max(h.fmtSize, 40));
  fmt.writeUInt16LE(h.format, 0);
  fmt.writeUInt16LE(h.channels, 2);
  fmt.writeUInt32LE(h.rate, 4);
  fmt.writeUInt32LE((h.rate * h.channels * h.bits) / 8 >>> 0, 8);
  fmt.writeUInt16LE((h.channels * h.bits) / 8 & 0xffff, 12);
  fmt.writeUInt16LE(h.bits, 14);
  fmt.writeUInt16LE(h.subFormat, 24);
  const body = Buffer.concat([...h.junk.map((j) => chunk('LIST', j)), chunk('fmt ', fmt.subarray(0, h.fmtSize)), chunk('data', h.data, h.declared ?? h.data.length)]);
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(4 + body.length, 4);
  riff.write('WAVE', 8, 'latin1');
  return Buffer.concat([riff, body]);
}

const SUPPORTED: Readonly<Record<number, readonly number[]>> = { 1: [8, 16, 24, 32], 3: [32, 64], 6: [8], 7: [8] };

/** The reader's contract, from its documentation: how many 8 kHz samples `h` yields, or null for a refusal. */
function expectedSamples(h: Header): number | null {
  if (h.fmtSize < 16) return null;
  const format = h.format === 0xfffe ? (h.fmtSize >= 26 ? h.subFormat : 0) : h.format;
  if (!SUPPORTED[format]?.includes(h.bits)) return null;
  if (h.channels < 1 || h.channels > 8 || h.rate < 1000 || h.rate > 192_000) return null;
  // A declared size past the end reads what is there: the data and the pad byte after odd data.
  const frames = Math.floor(Math.min(h.declared ?? h.data.length, h.data.length + (h.data.length % 2)) / ((h.bits / 8) * h.channels));
  if (frames === 0 || frames / h.rate > MAX_WAV_SECONDS) return null;
  return Math.floor((frames * 8000) / h.rate);
}

const anyHeader: fc.Arbitrary<Header> = fc.record({
  format: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(1, 3, 6, 7, 0xfffe) }, { weight: 1, arbitrary: fc.constantFrom(0, 2, 17, 85, 0xffff) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
  subFormat: fc.constantFrom(1, 3, 7, 2, 0),
  channels: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 8 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 9, 255, 0xffff) }),
  rate: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(8000, 16000, 44100, 48000, 1000, 192_000, 11025) },
    { weight: 2, arbitrary: fc.constantFrom(0, 1, 2, 999, 192_001, 0xffffffff) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
  ),
  bits: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(8, 16, 24, 32, 64) }, { weight: 1, arbitrary: fc.constantFrom(0, 1, 4, 12, 20, 48, 0xffff) }),
  fmtSize: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(16, 18, 40) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 40 }) }),
  junk: fc.array(fc.uint8Array({ maxLength: 9 }), { maxLength: 2 }),
  declared: fc.option(fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constant(0xffffffff)), { nil: null }),
  data: fc.uint8Array({ maxLength: 3000 }),
});
/** Mostly headers whose format and sample size go together, so both sides of the contract are exercised. */
const header = fc.oneof(
  anyHeader,
  fc.tuple(anyHeader, fc.constantFrom(...Object.entries(SUPPORTED).flatMap(([format, bits]) => bits.map((b) => [Number(format), b] as const)))).map(([h, [format, bits]]) => ({ ...h, format, bits })),
);

it('reads any header as the contract says: the audio it describes, or a refusal saying why', () => {
  let read = 0;
  let refused = 0;
  fc.assert(
    fc.property(header, (h) => {
      const expected = expectedSamples(h);
      const result = decode(wav(h));
      if (expected === null) {
        expect(result).toEqual({ refused: expect.any(String) });
        refused++;
      } else {
        expect('samples' in result && result.samples.length).toBe(expected);
        read++;
      }
    }),
    { numRuns: 2000 },
  );
  expect(Math.min(read, refused)).toBeGreaterThan(100);
});

it('refuses arbitrary bytes, and every truncation or corruption of a good file, with a WavError at most', () => {
  const good = new WaveFile();
  good.fromScratch(2, 44100, '24', [Array.from(tone(500, 0.05, 8000 * 256, 44100)), Array.from(tone(500, 0.05, 8000 * 256, 44100))]);
  const bytes = Buffer.from(good.toBuffer());
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 3000 }),
        fc.uint8Array({ maxLength: 200 }).map((tail) => Buffer.concat([Buffer.from('RIFF\u0000\u0000\u0000\u0000WAVE', 'latin1'), tail])),
        fc.nat(bytes.length).map((cut) => bytes.subarray(0, cut)),
        fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((edits) => {
          const copy = Buffer.from(bytes);
          for (const [at, value] of edits) copy[at % 64] = value; // the headers live in the first 44 bytes
          return copy;
        }),
      ),
      (input) => void decode(input),
    ),
    { numRuns: 1000 },
  );
  for (const [input, reason] of [
    [Buffer.alloc(0), /RIFF\/WAVE header/],
    [Buffer.from('RIFF\u0000\u0000\u0000\u0000WAVE', 'latin1'), /no "fmt " chunk/],
    [Buffer.from('RIFX\u0000\u0000\u0000\u0000WAVE', 'latin1'), /RIFX/],
    [bytes.subarray(0, 44), /no audio/],
  ] as const) {
    expect(decode(input)).toEqual({ refused: expect.stringMatching(reason) });
  }
});

it('refuses headers that would ask for huge work, at once', () => {
  // The old reader upsampled 1 Hz audio to 8 kHz: 100 KB of it was 800 million samples.
  const bomb = (rate: number, channels: number, data: number) => wav({ format: 1, subFormat: 0, channels, rate, bits: 8, fmtSize: 16, junk: [], declared: null, data: new Uint8Array(data) });
  expect(decode(bomb(1, 1, 100_000))).toEqual({ refused: expect.stringContaining('sample rate is 1 Hz') });
  expect(decode(bomb(1000, 1, 400_000))).toEqual({ refused: expect.stringContaining('400 s long') });
  expect(decode(bomb(8000, 0xffff, 100_000))).toEqual({ refused: expect.stringContaining('65535 channels') });
  expect(decode(bomb(8000, 1, 100))).toEqual({ samples: expect.any(Int16Array) });
});

it('reads the WAVs tools write (any supported rate, depth and channel count) as the same 8 kHz audio', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.constantFrom(4000, 8000, 11025, 16000, 22050, 44100, 48000, 96000), fc.integer({ min: 2000, max: 192_000 })),
      fc.integer({ min: 1, max: 4 }),
      fc.constantFrom('8', '16', '24', '32', '32f', '64', '8m', '8a'),
      (rate, channels, depth) => {
        const pcm = tone(500, 0.15, 8000, rate);
        const scaled = depth === '32f' || depth === '64' ? Array.from(pcm, (v) => v / 32768) : depth === '8' ? Array.from(pcm, (v) => Math.round(v / 256) + 128) : depth === '24' ? Array.from(pcm, (v) => v * 256) : depth === '32' ? Array.from(pcm, (v) => v * 65536) : Array.from(pcm);
        const file = new WaveFile();
        if (depth === '8m' || depth === '8a') {
          file.fromScratch(channels, rate, '16', Array.from({ length: channels }, () => Array.from(pcm)));
          if (depth === '8m') file.toMuLaw();
          else file.toALaw();
        } else file.fromScratch(channels, rate, depth, Array.from({ length: channels }, () => scaled));
        const result = decode(file.toBuffer(), 5000);
        if (!('samples' in result)) throw new Error(result.refused);
        // The frames the file holds (wavefile pads companded data to an even length, and says so).
        const frames = Math.floor((file.data as { samples: Uint8Array }).samples.length / (channels * (depth === '64' ? 8 : depth.startsWith('32') ? 4 : depth === '24' ? 3 : depth === '16' ? 2 : 1)));
        expect(frames - pcm.length).toBeLessThanOrEqual(1);
        expect(result.samples.length).toBe(Math.floor((frames * 8000) / rate));
        // The tone at its level (8 bits and companding cost a little), in the middle, away from the ends.
        expect(toneLevel(result.samples.subarray(200, 1000), 500)).toBeGreaterThan(7500);
      },
    ),
    { numRuns: 40 },
  );
});

it('makes `npm run call -- --play` fail fast and clearly on a bad WAV', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-wav-'));
  try {
    const run = (file: string) => promisify(execFile)(NODE_TSX[0], [...NODE_TSX.slice(1), 'tools/call.ts', '--play', file, '--answer-url', 'http://127.0.0.1:9/none'], { cwd: ROOT, timeout: 20_000 });
    writeFileSync(join(dir, 'junk.wav'), 'not a wav at all');
    writeFileSync(join(dir, 'bomb.wav'), wav({ format: 1, subFormat: 0, channels: 1, rate: 1, bits: 8, fmtSize: 16, junk: [], declared: null, data: new Uint8Array(100_000) }));
    await expect(run(join(dir, 'junk.wav'))).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining(`call: --play ${join(dir, 'junk.wav')}: not a WAV file: it does not start with a RIFF/WAVE header`) });
    await expect(run(join(dir, 'bomb.wav'))).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('its sample rate is 1 Hz; 1000 to 192000 Hz are supported') });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 45_000);
