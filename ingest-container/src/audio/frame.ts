import { mulawDecode, mulawEncode } from '../../../core/mulaw';
import type { SampleRate } from '../../../core/rooms';

/** Every frame of audio the media server moves is this long: the room clock ticks once a frame. */
export const FRAME_MS = 20;
export const samplesPerFrame = (rate: number): number => (rate * FRAME_MS) / 1000;

const PHONE_FRAME_BYTES = samplesPerFrame(8000);
/** 160 bytes of mu-law silence (0xff), as Plivo's base64. */
const SILENT_MULAW_BASE64 = Buffer.alloc(PHONE_FRAME_BYTES, 0xff).toString('base64');
/** A frame whose every sample is below this (-45 dBFS) is quiet: a caller misses nothing if it is skipped. */
const QUIET_PEAK = Math.round(32768 * 10 ** (-45 / 20));
/** 1 for each mu-law code at or above `QUIET_PEAK`: a quiet check is one lookup per code, no decode. */
const LOUD_MULAW = Uint8Array.from(mulawDecode(Uint8Array.from({ length: 256 }, (_, code) => code)), (sample) => (Math.abs(sample) >= QUIET_PEAK ? 1 : 0));

const POOL_SAMPLES = 4096;
let pool = new Int16Array(POOL_SAMPLES);
let pooled = 0;
/**
 * `n` samples cut from a shared 8 KB block, as Buffer's pool cuts small buffers: a decoded frame's samples are a view,
 * not an ArrayBuffer of their own (each of which costs an allocation outside V8's heap and a sweep in every GC; a
 * recorded or mixed phone decodes 50 a second).
 */
function pooledSamples(n: number): Int16Array {
  if (n > POOL_SAMPLES) return new Int16Array(n);
  if (pooled + n > POOL_SAMPLES) [pool, pooled] = [new Int16Array(POOL_SAMPLES), 0];
  pooled += n;
  return pool.subarray(pooled - n, pooled);
}

/**
 * One 20 ms frame of audio at `rate`, in whichever forms it has been needed so far. Phone audio keeps
 * the base64 text Plivo sent, so a frame going from one 8 kHz caller to another is forwarded as that
 * same string: never decoded, never re-encoded.
 */
export class Frame {
  private constructor(
    readonly rate: SampleRate,
    private base64: string | null,
    private codes: Uint8Array | null,
    private samples: Int16Array | null,
  ) {}

  /** 160 mu-law bytes as base64, exactly as Plivo sends a 20 ms `media` payload. */
  static fromMulawBase64(base64: string): Frame {
    return new Frame(8000, base64, null, null);
  }

  static fromMulaw(codes: Uint8Array): Frame {
    return new Frame(8000, null, codes, null);
  }

  static fromPcm(rate: SampleRate, samples: Int16Array): Frame {
    return new Frame(rate, null, null, samples);
  }

  /** Digital silence costs nothing downstream: the room skips it like a missing frame. */
  get silent(): boolean {
    return this.base64 === SILENT_MULAW_BASE64;
  }

  /** Digital silence, or no sample at -45 dBFS or above: a frame the jitter buffer may skip to catch up. */
  get quiet(): boolean {
    if (this.silent) return true;
    if (this.samples) {
      for (const sample of this.samples) if (sample >= QUIET_PEAK || sample <= -QUIET_PEAK) return false;
      return true;
    }
    for (const code of this.mulaw) if (LOUD_MULAW[code] === 1) return false;
    return true;
  }

  get pcm(): Int16Array {
    if (!this.samples) this.samples = mulawDecode(this.mulaw, pooledSamples(this.mulaw.length));
    return this.samples;
  }

  /** Only 8 kHz frames have a mu-law form. */
  get mulaw(): Uint8Array {
    if (!this.codes) {
      if (this.base64 !== null) this.codes = Buffer.from(this.base64, 'base64');
      else if (this.rate === 8000 && this.samples) this.codes = mulawEncode(this.samples);
      else throw new Error(`A ${this.rate} Hz frame has no mu-law form`);
    }
    return this.codes;
  }

  get mulawBase64(): string {
    if (this.base64 === null) this.base64 = Buffer.from(this.mulaw.buffer, this.mulaw.byteOffset, this.mulaw.byteLength).toString('base64');
    return this.base64;
  }
}

export { PHONE_FRAME_BYTES };
