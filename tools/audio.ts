/** Audio helpers for the simulators, the CLI and the tests. */
import { FRAME_MS } from '../ingest-container/src/audio/frame';

/** A sine tone as PCM at `rate`. */
export function tone(hz: number, seconds: number, amplitude = 8000, rate = 8000): Int16Array {
  return Int16Array.from({ length: Math.round(seconds * rate) }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)));
}

/** Goertzel: the power of one frequency in `pcm`, normalised to the amplitude of a sine (0..32767). */
export function toneLevel(pcm: Int16Array, hz: number, rate = 8000): number {
  if (pcm.length === 0) return 0;
  const coefficient = 2 * Math.cos((2 * Math.PI * hz) / rate);
  let s1 = 0;
  let s2 = 0;
  for (const sample of pcm) {
    const s0 = sample + coefficient * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
  return (2 * Math.sqrt(Math.max(0, power))) / pcm.length;
}

/**
 * Calls `send(i)` for frames 0..count-1 at real time, each scheduled from the start (no drift);
 * stops early when `send` returns false.
 */
export async function paced(count: number, send: (index: number) => boolean): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = started + i * FRAME_MS - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    if (!send(i)) return;
  }
}

/** Frames (each `frameSamples` long) joined into one signal. */
export function concat(frames: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(frames.reduce((n, f) => n + f.length, 0));
  let offset = 0;
  for (const frame of frames) {
    out.set(frame, offset);
    offset += frame.length;
  }
  return out;
}

/**
 * SNR (dB) of `signal` against the best-fitting sine of `hz` (least squares over sin and cos): whatever
 * the fit does not explain is noise, distortion or aliasing.
 */
export function snrDb(signal: ArrayLike<number>, rate: number, hz: number): number {
  const wave = (i: number) => [Math.sin((2 * Math.PI * hz * i) / rate), Math.cos((2 * Math.PI * hz * i) / rate)] as const;
  let ss = 0;
  let sc = 0;
  let cc = 0;
  let ys = 0;
  let yc = 0;
  for (let i = 0; i < signal.length; i++) {
    const [s, c] = wave(i);
    const y = signal[i] as number;
    ss += s * s;
    sc += s * c;
    cc += c * c;
    ys += y * s;
    yc += y * c;
  }
  const det = ss * cc - sc * sc;
  const a = (ys * cc - yc * sc) / det;
  const b = (yc * ss - ys * sc) / det;
  let power = 0;
  let noise = 0;
  for (let i = 0; i < signal.length; i++) {
    const [s, c] = wave(i);
    const fit = a * s + b * c;
    power += fit * fit;
    noise += ((signal[i] as number) - fit) ** 2;
  }
  return 10 * Math.log10(power / noise);
}

/** A WAV file the simulator cannot speak; the message says what is wrong with it. */
export class WavError extends Error {
  override readonly name = 'WavError';
}

/** Calls loop shorter audio to fill `--seconds`; longer files are refused rather than held in memory. */
export const MAX_WAV_SECONDS = 300;
const WAV_RATES = [1000, 192_000] as const;
const MAX_WAV_CHANNELS = 8;
const FORMATS: Readonly<Record<number, { readonly name: string; readonly bits: readonly number[] }>> = {
  1: { name: 'PCM', bits: [8, 16, 24, 32] },
  3: { name: 'IEEE float', bits: [32, 64] },
  6: { name: 'A-law', bits: [8] },
  7: { name: 'mu-law', bits: [8] },
};
/** Formats met in the wild that this reader does not decode, named in its refusal. */
const KNOWN_FORMATS: Readonly<Record<number, string>> = { 2: 'MS ADPCM', 17: 'IMA ADPCM', 49: 'GSM 6.10', 80: 'MPEG', 85: 'MP3' };

interface WavFormat {
  readonly format: number;
  readonly channels: number;
  readonly rate: number;
  readonly bits: number;
}

/** The `fmt ` and `data` chunks of a RIFF/WAVE file; a `data` chunk cut short is what there is of it. */
function wavChunks(buf: Buffer): { fmt: WavFormat; data: Buffer } {
  const tag = buf.subarray(0, 4).toString('latin1');
  if (tag === 'RIFX' || tag === 'RF64') throw new WavError(`${tag} WAV files are not supported; use a little-endian RIFF WAV`);
  if (buf.length < 12 || tag !== 'RIFF' || buf.subarray(8, 12).toString('latin1') !== 'WAVE') throw new WavError('not a WAV file: it does not start with a RIFF/WAVE header');
  let fmt: WavFormat | undefined;
  let data: Buffer | undefined;
  // Every step moves on by at least the 8-byte chunk header, so any bytes end the loop.
  for (let offset = 12; offset + 8 <= buf.length && !(fmt && data); ) {
    const id = buf.subarray(offset, offset + 4).toString('latin1');
    const size = buf.readUInt32LE(offset + 4);
    const body = buf.subarray(offset + 8, Math.min(offset + 8 + size, buf.length));
    if (id === 'fmt ' && !fmt) {
      if (body.length < 16) throw new WavError(`its "fmt " chunk is ${body.length} bytes; at least 16 expected`);
      let format = body.readUInt16LE(0);
      // WAVE_FORMAT_EXTENSIBLE: the format code is the first two bytes of the sub-format GUID.
      if (format === 0xfffe) format = body.length >= 26 ? body.readUInt16LE(24) : 0;
      fmt = { format, channels: body.readUInt16LE(2), rate: body.readUInt32LE(4), bits: body.readUInt16LE(14) };
    } else if (id === 'data' && !data) data = body;
    offset += 8 + size + (size % 2);
  }
  if (!fmt) throw new WavError('it has no "fmt " chunk');
  if (!data) throw new WavError('it has no "data" chunk');
  return { fmt, data };
}

function alawDecode(code: number): number {
  const a = code ^ 0x55;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  const magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

function mulawSample(code: number): number {
  const byte = ~code & 0xff;
  const magnitude = ((((byte & 0x0f) << 3) + 0x84) << ((byte >> 4) & 0x07)) - 0x84;
  return byte & 0x80 ? -magnitude : magnitude;
}

/** One sample at `offset` in 16-bit units (float samples scaled, NaN as silence). */
function sampleReader({ format, bits }: WavFormat): (data: Buffer, offset: number) => number {
  if (format === 6) return (data, offset) => alawDecode(data[offset] as number);
  if (format === 7) return (data, offset) => mulawSample(data[offset] as number);
  if (format === 3) {
    const read = bits === 32 ? (d: Buffer, o: number) => d.readFloatLE(o) : (d: Buffer, o: number) => d.readDoubleLE(o);
    return (data, offset) => {
      const value = read(data, offset) * 32768;
      return Number.isNaN(value) ? 0 : value;
    };
  }
  switch (bits) {
    case 8:
      return (data, offset) => ((data[offset] as number) - 128) * 256;
    case 16:
      return (data, offset) => data.readInt16LE(offset);
    case 24:
      return (data, offset) => data.readIntLE(offset, 3) / 256;
    default:
      return (data, offset) => data.readInt32LE(offset) / 65536;
  }
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Output samples fall between input samples at fractions of this many steps at most (1/1024: far below audible). */
const MAX_PHASES = 1024;

/**
 * Resamples to 8 kHz with a Hann-windowed sinc cut off at 45% of the lower rate (8 zero crossings a side),
 * normalised by its weights so the ends of the signal keep their level; saturates to 16 bits. Each output sample
 * sits between input samples at one of `phases` fractions, whose weights are computed once.
 */
function resampleTo8k(input: Float32Array, rate: number): Int16Array {
  const out = new Int16Array(Math.floor((input.length * 8000) / rate));
  const phases = Math.min(8000 / gcd(rate, 8000), MAX_PHASES);
  const cutoff = (0.45 * Math.min(rate, 8000)) / rate; // cycles per input sample
  const half = rate === 8000 ? 0 : Math.ceil(4 / cutoff);
  const width = 2 * half + 1;
  const kernel = new Float32Array(phases * width);
  for (let p = 0; p < phases; p++) {
    for (let j = -half; j <= half; j++) {
      const d = j - p / phases;
      const x = 2 * cutoff * d;
      const inside = half === 0 ? d === 0 : Math.abs(d) < half;
      kernel[p * width + j + half] = inside ? (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x)) * (half === 0 ? 1 : 0.5 + 0.5 * Math.cos((Math.PI * d) / half)) : 0;
    }
  }
  for (let n = 0; n < out.length; n++) {
    const position = (n * rate) / 8000;
    let base = Math.floor(position);
    let phase = Math.round((position - base) * phases);
    if (phase === phases) {
      base++;
      phase = 0;
    }
    const row = phase * width;
    let sum = 0;
    let weights = 0;
    for (let j = Math.max(-half, -base); j <= Math.min(half, input.length - 1 - base); j++) {
      const weight = kernel[row + j + half] as number;
      sum += weight * (input[base + j] as number);
      weights += weight;
    }
    const value = Math.round(weights === 0 ? 0 : sum / weights);
    out[n] = value > 32767 ? 32767 : value < -32768 ? -32768 : value;
  }
  return out;
}

/**
 * A WAV file's audio as 8 kHz mono 16-bit PCM: RIFF/WAVE with PCM (8, 16, 24, 32-bit), IEEE float (32, 64-bit),
 * A-law or mu-law samples, 1-8 channels (averaged), 1-192 kHz (resampled), at most MAX_WAV_SECONDS long. A file
 * cut short is read up to its last whole sample frame. Anything else throws a WavError saying why: whatever the
 * bytes, the work done is bounded by the file's size and these limits.
 */
export function decodeWav(bytes: Uint8Array): Int16Array {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { fmt, data } = wavChunks(buf);
  const known = FORMATS[fmt.format];
  if (!known) throw new WavError(`its samples are ${KNOWN_FORMATS[fmt.format] ?? `format ${fmt.format}`}; PCM, IEEE float, A-law or mu-law are supported`);
  if (!known.bits.includes(fmt.bits)) throw new WavError(`${fmt.bits}-bit ${known.name} samples are not supported (${known.bits.join(', ')}-bit are)`);
  if (fmt.channels < 1 || fmt.channels > MAX_WAV_CHANNELS) throw new WavError(`it has ${fmt.channels} channels; 1 to ${MAX_WAV_CHANNELS} are supported`);
  if (fmt.rate < WAV_RATES[0] || fmt.rate > WAV_RATES[1]) throw new WavError(`its sample rate is ${fmt.rate} Hz; ${WAV_RATES[0]} to ${WAV_RATES[1]} Hz are supported`);
  const sampleBytes = fmt.bits / 8;
  const frameBytes = sampleBytes * fmt.channels;
  const frames = Math.floor(data.length / frameBytes);
  if (frames === 0) throw new WavError('it holds no audio (no whole sample frame in its "data" chunk)');
  if (frames / fmt.rate > MAX_WAV_SECONDS) throw new WavError(`it is ${Math.round(frames / fmt.rate)} s long; at most ${MAX_WAV_SECONDS} s is read`);
  const read = sampleReader(fmt);
  const mono = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < fmt.channels; c++) sum += read(data, i * frameBytes + c * sampleBytes);
    mono[i] = sum / fmt.channels;
  }
  return resampleTo8k(mono, fmt.rate);
}

/**
 * The audio gap a caller heard across a switch from a room playing `fromHz` to one playing `toHz`, in 20 ms
 * frames as received (`at`, ms): the time from the arrival of the last frame of the first tone to that of the
 * first frame of the second (20 ms: seamless), and the frames of neither tone between them. Null when the caller
 * never heard the first tone followed by the second.
 */
export function switchGap(frames: readonly { readonly at: number; readonly pcm: Int16Array }[], fromHz: number, toHz: number): { gapMs: number; silentFrames: number } | null {
  const heard = (pcm: Int16Array, hz: number) => toneLevel(pcm, hz) > 2000;
  const first = frames.findIndex((frame) => heard(frame.pcm, toHz));
  if (first <= 0) return null;
  let last = first - 1;
  while (last >= 0 && !heard((frames[last] as (typeof frames)[number]).pcm, fromHz)) last--;
  if (last < 0) return null;
  return { gapMs: (frames[first] as (typeof frames)[number]).at - (frames[last] as (typeof frames)[number]).at, silentFrames: first - last - 1 };
}
