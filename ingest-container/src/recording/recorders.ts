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

/**
 * Sums the speech of this tick's members (all but `except`) at a converter's rate, for a recorder: the one speaker's
 * frame as it is (a two-party room's other side, a lone speaker: no sum), or several summed and saturated into `into`;
 * null when nobody spoke. `sum` and `into` are the recorder's, a frame long.
 */
function speechOf(members: ReadonlyMap<string, TappedMember>, converter: Converter, except: string | null, sum: Int32Array, into: Int16Array): Int16Array | null {
  let one: Int16Array | null = null;
  let count = 0;
  for (const { participant, speech } of members.values()) {
    if (!speech || participant.id === except) continue;
    const pcm = converter.pcm(participant, speech);
    if (++count === 1) {
      one = pcm;
      continue;
    }
    if (count === 2) sum.set(one as Int16Array);
    for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (pcm[i] as number);
  }
  if (count < 2) return one;
  for (let i = 0; i < into.length; i++) into[i] = saturate(sum[i] as number);
  return into;
}

/** A room recording: mono at the room's mix rate as it started, the sum of every member's speech, saturated. */
export class RoomMixRecorder implements RoomRecorder {
  private readonly converter: Converter;
  private readonly sum: Int32Array;
  private readonly mixed: Int16Array;

  constructor(
    rate: SampleRate,
    private readonly writer: SegmentWriter,
  ) {
    this.converter = new Converter(rate);
    this.sum = new Int32Array(samplesPerFrame(rate));
    this.mixed = new Int16Array(this.sum.length);
  }

  tick(members: ReadonlyMap<string, TappedMember>): void {
    const speech = speechOf(members, this.converter, null, this.sum, this.mixed);
    const { writer } = this;
    const at = writer.next();
    if (speech) writer.buffer.set(speech, at);
    else writer.buffer.fill(0, at, at + writer.frameSamples);
  }
}

/**
 * A call recording: stereo at the call's rate, left the phone's own speech, right what it heard (every other
 * member's speech summed at its rate, saturated: the mix-minus), interleaved. A tick without the phone (it left, the
 * recording not yet stopped) records silence on the left.
 */
export class CallRecorder implements RoomRecorder {
  private readonly converter: Converter;
  private readonly sum: Int32Array;
  private readonly mixed: Int16Array;
  /** A frame of silence, for a side that said nothing. */
  private readonly quiet: Int16Array;

  constructor(
    private readonly participantId: string,
    rate: SampleRate,
    private readonly writer: SegmentWriter,
  ) {
    this.converter = new Converter(rate);
    this.sum = new Int32Array(samplesPerFrame(rate));
    this.mixed = new Int16Array(this.sum.length);
    this.quiet = new Int16Array(this.sum.length);
  }

  tick(members: ReadonlyMap<string, TappedMember>): void {
    const phone = members.get(this.participantId);
    const own = phone?.speech ? this.converter.pcm(phone.participant, phone.speech) : this.quiet;
    const heard = speechOf(members, this.converter, this.participantId, this.sum, this.mixed) ?? this.quiet;
    const { writer } = this;
    const at = writer.next();
    const out = writer.buffer;
    for (let i = 0, o = at; i < own.length; i++, o += 2) {
      out[o] = own[i] as number;
      out[o + 1] = heard[i] as number;
    }
  }
}
