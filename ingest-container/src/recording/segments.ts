import { samplesPerFrame } from '../audio/frame';
import { segmentCodec, type RecordingFormat, type SegmentCodec } from '../../../core/recordings/model';
import type { RecordingObjects } from '../../../core/recordings/objects';

/** A segment's samples in its codec: mu-law codes (one byte each) or PCM16. */
export type SegmentSamples = Uint8Array | Int16Array;
const samplesIn = (codec: SegmentCodec, length: number): SegmentSamples => (codec === 'mulaw' ? new Uint8Array(length) : new Int16Array(length));

/** Segments waiting behind the one uploading beyond which a recording fails (S3 unreachable) rather than hold ever more audio. */
export const MAX_WAITING_SEGMENTS = 3;

/**
 * A recording's audio on its way to its bucket: one 20 ms frame of samples (interleaved, in the format's `codec`: mu-law
 * at 8 kHz, else PCM16) a tick, written by its recorder straight into the segment being filled (`next`), and every
 * `segmentSeconds` of audio (RECORDING_SEGMENT_SECONDS) handed as one segment to an upload chain (one upload at a time,
 * never awaited by the room's tick). A segment's buffer is used again once its upload is done: a recording whose
 * uploads keep up holds two, allocated once. Memory is bounded: with more than MAX_WAITING_SEGMENTS waiting behind the
 * one uploading, or an upload failed, it fails (`failure`), drops what it holds and keeps nothing more. PCM16 samples
 * go up as the machine holds them: little-endian on every platform Node's AWS targets run on.
 */
export class SegmentWriter {
  /** Samples (all channels) of one frame: what the recorder writes from `next()`'s offset each tick. */
  readonly frameSamples: number;
  readonly codec: SegmentCodec;
  private current: SegmentSamples;
  /** Buffers whose uploads are done, to fill again. */
  private readonly spare: SegmentSamples[] = [];
  private filled = 0;
  private seq = 0;
  private waiting = 0;
  private chain: Promise<void> = Promise.resolve();
  /** Why it failed, once it has; null while it is fine. */
  failure: Error | null = null;
  /** Samples taken so far (all channels). */
  private samples = 0;
  /**
   * Samples the segment being filled holds when full, whole frames: the first a random 50-100% of a segment, so that
   * recordings begun together (every call of a busy moment) do not all upload in the same tick; then whole segments.
   */
  private limit: number;

  constructor(
    private readonly objects: Pick<RecordingObjects, 'putSegment'>,
    private readonly key: string,
    private readonly format: RecordingFormat,
    segmentSeconds: number,
    /** Told once, as it fails (the recording then ends without waiting for its stop). */
    private readonly onFailure: (err: Error) => void,
  ) {
    this.frameSamples = samplesPerFrame(format.sampleRate) * format.channels;
    this.codec = segmentCodec(format);
    const frames = (segmentSeconds * format.sampleRate * format.channels) / this.frameSamples;
    this.current = samplesIn(this.codec, frames * this.frameSamples);
    this.limit = (frames / 2 + Math.floor((Math.random() * frames) / 2)) * this.frameSamples;
  }

  /** Seconds of audio taken so far. */
  get seconds(): number {
    return this.samples / (this.format.sampleRate * this.format.channels);
  }

  /** What the frame `next()` placed is written into, from its offset (read after `next()`: a full segment swaps it). */
  get buffer(): SegmentSamples {
    return this.current;
  }

  /**
   * Takes this tick's frame: the offset in `buffer` its `frameSamples` samples are to be written at, before the next
   * call. Once failed, a scratch frame that is never uploaded.
   */
  next(): number {
    if (this.filled === this.limit) this.rollOver();
    if (this.failure) return 0;
    const at = this.filled;
    this.filled += this.frameSamples;
    this.samples += this.frameSamples;
    return at;
  }

  /** The rest uploaded and every upload done; throws why it failed, if it did. */
  async finish(): Promise<void> {
    if (!this.failure && this.filled > 0) this.upload(this.current, this.filled);
    this.filled = 0;
    await this.chain;
    if (this.failure) throw this.failure;
  }

  /** The full segment goes up; the next is filled in a spare buffer, or a new one while every other is uploading. */
  private rollOver(): void {
    const [full, samples] = [this.current, this.filled];
    this.current = this.spare.pop() ?? samplesIn(this.codec, full.length);
    this.filled = 0;
    this.limit = full.length;
    this.upload(full, samples);
  }

  private upload(buffer: SegmentSamples, samples: number): void {
    // The one uploading, and those waiting behind it.
    if (++this.waiting > MAX_WAITING_SEGMENTS + 1) return this.fail(new Error(`over ${MAX_WAITING_SEGMENTS} segments waiting to upload: the bucket is unreachable or too slow`));
    const seq = ++this.seq;
    // Read by the upload until it settles; the buffer is filled again only after.
    const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, samples * buffer.BYTES_PER_ELEMENT);
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        await this.objects.putSegment(this.key, seq, bytes);
        if (!this.failure) this.spare.push(buffer);
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)));
      } finally {
        this.waiting--;
      }
    });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    // What it holds is dropped: a frame's scratch is all it keeps.
    this.current = samplesIn(this.codec, this.frameSamples);
    this.spare.length = 0;
    this.filled = 0;
    this.limit = this.frameSamples;
    this.onFailure(err);
  }
}
