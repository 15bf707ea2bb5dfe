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
