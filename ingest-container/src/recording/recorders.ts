import { samplesPerFrame, type Frame } from '../audio/frame';
import { Resampler } from '../audio/resampler';
import { MULAW_SILENCE, mulawEncode } from '../../../core/mulaw';
import type { SegmentCodec } from '../../../core/recordings/model';
import type { SampleRate } from '../../../core/rooms';
import type { Participant, RoomRecorder, TappedMember } from '../room/room';
import type { SegmentSamples, SegmentWriter } from './segments';

/**
 * A speaker's frame at `rate` in the segment's codec. PCM16: as it is when the rates match, else through the
 * recorder's own resampler for that speaker (never the room's: those are stateful per listener rate, and sharing one
 * would corrupt both streams). Mu-law (8 kHz): a phone's codes copied as they came, never decoded; another rate
 * resampled, then encoded. Resamplers are kept per participant object, dropped with it.
 */
class Converter {
  private readonly resamplers = new WeakMap<Participant, Resampler>();
  /** A frame of silence in the codec, for a side that said nothing. */
  readonly quiet: SegmentSamples;

  constructor(
    readonly rate: SampleRate,
    private readonly codec: SegmentCodec,
  ) {
    const samples = samplesPerFrame(rate);
    this.quiet = codec === 'mulaw' ? new Uint8Array(samples).fill(MULAW_SILENCE) : new Int16Array(samples);
  }

  pcm(participant: Participant, frame: Frame): Int16Array {
    if (frame.rate === this.rate) return frame.pcm;
    let resampler = this.resamplers.get(participant);
    if (!resampler || resampler.fromRate !== frame.rate) this.resamplers.set(participant, (resampler = new Resampler(frame.rate, this.rate)));
    return resampler.process(frame.pcm);
  }

  /** The speaker's frame in the codec; `into`, a frame long, holds it when it must be encoded. */
  encoded(participant: Participant, frame: Frame, into: Uint8Array): SegmentSamples {
    if (this.codec === 'mulaw' && frame.rate === this.rate) return frame.mulaw;
    return this.encode(this.pcm(participant, frame), into);
  }

  /** Samples at the rate in the codec; `into`, a frame long, holds them when they must be encoded. */
  encode(pcm: Int16Array, into: Uint8Array): SegmentSamples {
    return this.codec === 'mulaw' ? mulawEncode(pcm, into) : pcm;
  }
}

const saturate = (value: number): number => (value > 32767 ? 32767 : value < -32768 ? -32768 : value);

/** A recorder's frame-long scratch, allocated once: the sum, its saturated samples, and their codes. */
class Scratch {
  readonly sum: Int32Array;
  readonly mixed: Int16Array;
  readonly codes: Uint8Array;

  constructor(rate: SampleRate) {
    this.sum = new Int32Array(samplesPerFrame(rate));
    this.mixed = new Int16Array(this.sum.length);
    this.codes = new Uint8Array(this.sum.length);
  }
}

/**
 * Sums the speech of this tick's members (all but `except`) at a converter's rate, in its codec, for a recorder: the
 * one speaker's frame as it is (a two-party room's other side, a lone speaker: no sum, and at 8 kHz its mu-law as it
 * came), or several summed in PCM, saturated (and encoded) into `scratch`; null when nobody spoke.
 */
function speechOf(members: ReadonlyMap<string, TappedMember>, converter: Converter, except: string | null, scratch: Scratch): SegmentSamples | null {
  const { sum, mixed } = scratch;
  let first: Participant | null = null;
  let firstSpeech: Frame | null = null;
  let count = 0;
  for (const { participant, speech } of members.values()) {
    if (!speech || participant.id === except) continue;
    if (++count === 1) {
      first = participant;
      firstSpeech = speech;
      continue;
    }
    if (count === 2 && first && firstSpeech) sum.set(converter.pcm(first, firstSpeech));
    const pcm = converter.pcm(participant, speech);
    for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (pcm[i] as number);
  }
  if (!first || !firstSpeech) return null;
  if (count === 1) return converter.encoded(first, firstSpeech, scratch.codes);
  for (let i = 0; i < mixed.length; i++) mixed[i] = saturate(sum[i] as number);
  return converter.encode(mixed, scratch.codes);
}

/** A room recording: mono at the room's mix rate as it started, the sum of every member's speech, saturated. */
export class RoomMixRecorder implements RoomRecorder {
  private readonly converter: Converter;
  private readonly scratch: Scratch;

  constructor(
    rate: SampleRate,
    private readonly writer: SegmentWriter,
  ) {
    this.converter = new Converter(rate, writer.codec);
    this.scratch = new Scratch(rate);
  }

  tick(members: ReadonlyMap<string, TappedMember>): void {
    const speech = speechOf(members, this.converter, null, this.scratch) ?? this.converter.quiet;
    const { writer } = this;
    const at = writer.next();
    writer.buffer.set(speech, at);
  }
}

/**
 * A call recording: stereo at the call's rate, left the phone's own speech, right what it heard (every other
 * member's speech summed at its rate, saturated: the mix-minus), interleaved. A tick without the phone (it left, the
 * recording not yet stopped) records silence on the left. At 8 kHz both sides are mu-law: the phone's codes and a lone
 * other speaker's copied as they came.
 */
export class CallRecorder implements RoomRecorder {
  private readonly converter: Converter;
  private readonly scratch: Scratch;
  /** The phone's own frame when it must be encoded (resampled). */
  private readonly ownCodes: Uint8Array;

  constructor(
    private readonly participantId: string,
    rate: SampleRate,
    private readonly writer: SegmentWriter,
  ) {
    this.converter = new Converter(rate, writer.codec);
    this.scratch = new Scratch(rate);
    this.ownCodes = new Uint8Array(samplesPerFrame(rate));
  }

  tick(members: ReadonlyMap<string, TappedMember>): void {
    const { converter } = this;
    const phone = members.get(this.participantId);
    const own = phone?.speech ? converter.encoded(phone.participant, phone.speech, this.ownCodes) : converter.quiet;
    const heard = speechOf(members, converter, this.participantId, this.scratch) ?? converter.quiet;
    const { writer } = this;
    const at = writer.next();
    const out = writer.buffer;
    for (let i = 0, o = at; i < own.length; i++, o += 2) {
      out[o] = own[i] as number;
      out[o + 1] = heard[i] as number;
    }
  }
}
