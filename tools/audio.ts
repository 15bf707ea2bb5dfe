/** Audio helpers for the simulators, the CLI and the tests. */

export const FRAME_MS = 20;

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
