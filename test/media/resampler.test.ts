import { ROOM_RATES, type SampleRate } from '../../core/rooms';
import { samplesPerFrame } from '../../ingest-container/src/audio/frame';
import { Resampler } from '../../ingest-container/src/audio/resampler';
import { snrDb } from '../../tools/audio';

/** A 1 kHz tone at `rate`, `frames` frames long, as 20 ms Int16 frames. */
function tone(rate: number, frames: number, hz = 1000, amplitude = 16000): Int16Array[] {
  const n = samplesPerFrame(rate);
  return Array.from({ length: frames }, (_, f) => Int16Array.from({ length: n }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * hz * (f * n + i)) / rate))));
}

function run(chain: SampleRate[], frames = 50): Float64Array {
  let current = tone(chain[0] as number, frames);
  for (let i = 1; i < chain.length; i++) {
    const r = new Resampler(chain[i - 1] as SampleRate, chain[i] as SampleRate);
    current = current.map((frame) => r.process(frame));
  }
  // Skip the first 10 frames: the filters' start-up transient.
  return Float64Array.from(current.slice(10).flatMap((f) => Array.from(f)));
}

describe('resampler', () => {
  it.each([
    [[8000, 16000]],
    [[16000, 8000]],
    [[8000, 48000]],
    [[48000, 8000]],
    [[16000, 48000]],
    [[48000, 16000]],
    [[24000, 16000]],
    [[16000, 24000]],
    [[8000, 16000, 48000, 16000, 8000]],
  ] as SampleRate[][][])('keeps a 1 kHz tone clean through %j: SNR >= 60 dB', (chain) => {
    const out = run(chain);
    const snr = snrDb(out, chain[chain.length - 1] as number, 1000);
    expect(snr).toBeGreaterThanOrEqual(60);
  });

  it('keeps the level: a 1 kHz tone leaves at the amplitude it came in with (within 0.1 dB)', () => {
    for (const from of ROOM_RATES) {
      for (const to of ROOM_RATES) {
        if (from === to) continue;
        const out = run([from, to]);
        const rms = Math.sqrt(out.reduce((sum, y) => sum + y * y, 0) / out.length);
        expect(Math.abs(20 * Math.log10(rms / (16000 / Math.SQRT2)))).toBeLessThan(0.1);
      }
    }
  });

  it('removes what the lower rate cannot carry: a 5 kHz tone at 16 kHz is >= 60 dB down at 8 kHz', () => {
    const r = new Resampler(16000, 8000);
    const out = tone(16000, 50, 5000).map((f) => r.process(f)).slice(10).flatMap((f) => Array.from(f));
    const rms = Math.sqrt(out.reduce((sum, y) => sum + y * y, 0) / out.length);
    expect(20 * Math.log10(rms / (16000 / Math.SQRT2))).toBeLessThan(-60);
  });

  it('makes whole frames: 20 ms in, 20 ms out', () => {
    const r = new Resampler(8000, 48000);
    expect(r.process(new Int16Array(160))).toHaveLength(960);
  });
});
