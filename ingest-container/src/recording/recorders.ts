import { samplesPerFrame, type Frame } from '../audio/frame';
import { Resampler } from '../audio/resampler';
import type { SampleRate } from '../../../core/rooms';
import type { Participant, RoomRecorder, TappedMember } from '../room/room';
import type { SegmentWriter } from './segments';

/**
 * A speaker's frame at `rate`: as it is when the rates match, else through the recorder's own resampler for that
 * speaker (never the room's: those are stateful per listener rate, and sharing one would corrupt both streams).
 * Resamplers are kept per participant object, dropped with it.
 */
class Converter {
  private readonly resamplers = new WeakMap<Participant, Resampler>();

  constructor(readonly rate: SampleRate) {}

  pcm(participant: Participant, frame: Frame): Int16Array {
    if (frame.rate === this.rate) return frame.pcm;
    let resampler = this.resamplers.get(participant);
    if (!resampler || resampler.fromRate !== frame.rate) this.resamplers.set(participant, (resampler = new Resampler(frame.rate, this.rate)));
    return resampler.process(frame.pcm);
  }
}

const saturate = (value: number): number => (value > 32767 ? 32767 : value < -32768 ? -32768 : value);

/** A room recording: mono at the room's mix rate as it started, the sum of every member's speech, saturated. */
export class RoomMixRecorder implements RoomRecorder {
  private readonly converter: Converter;
  private readonly sum: Int32Array;
  private readonly out: Int16Array;

  constructor(
    rate: SampleRate,
    private readonly writer: SegmentWriter,
  ) {
    this.converter = new Converter(rate);
    this.sum = new Int32Array(samplesPerFrame(rate));
    this.out = new Int16Array(this.sum.length);
  }

  tick(members: ReadonlyMap<string, TappedMember>): void {
    const { sum, out } = this;
    sum.fill(0);
    for (const { participant, speech } of members.values()) {
      if (!speech) continue;
      const pcm = this.converter.pcm(participant, speech);
      for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (pcm[i] as number);
    }
    for (let i = 0; i < out.length; i++) out[i] = saturate(sum[i] as number);
    this.writer.write(out);
  }
}

/**
 * A call recording: stereo at the call's rate, left the phone's own speech, right what it heard (every other
 * member's speech summed at its rate, saturated: the mix-minus), interleaved. A tick without the phone (it left, the
 * recording not yet stopped) records silence on the left.
 */
export class CallRecorder implements RoomRecorder {
  private readonly converter: Converter;
  private readonly heard: Int32Array;
  private readonly out: Int16Array;

  constructor(
    private readonly participantId: string,
    rate: SampleRate,
    private readonly writer: SegmentWriter,
  ) {
    this.converter = new Converter(rate);
    this.heard = new Int32Array(samplesPerFrame(rate));
    this.out = new Int16Array(this.heard.length * 2);
  }

  tick(members: ReadonlyMap<string, TappedMember>): void {
    const { heard, out } = this;
    heard.fill(0);
    let own: Int16Array | null = null;
    for (const { participant, speech } of members.values()) {
      if (!speech) continue;
      const pcm = this.converter.pcm(participant, speech);
      if (participant.id === this.participantId) own = pcm;
      else for (let i = 0; i < heard.length; i++) heard[i] = (heard[i] as number) + (pcm[i] as number);
    }
    for (let i = 0; i < heard.length; i++) {
      out[2 * i] = own ? (own[i] as number) : 0;
      out[2 * i + 1] = saturate(heard[i] as number);
    }
    this.writer.write(out);
  }
}
