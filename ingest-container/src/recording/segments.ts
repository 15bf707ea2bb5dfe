import { RECORDING_SEGMENT_SECONDS, type RecordingFormat } from '../../../core/recordings/model';
import type { RecordingObjects } from '../../../core/recordings/objects';

/** Segments waiting behind the one uploading beyond which a recording fails (S3 unreachable) rather than hold ever more audio. */
export const MAX_WAITING_SEGMENTS = 3;

/**
 * A recording's audio on its way to its bucket: PCM16 samples (interleaved) buffered, and every
 * RECORDING_SEGMENT_SECONDS of audio handed as one segment to an upload chain (one upload at a time, never awaited by
 * the room's tick). Memory is bounded: with more than MAX_WAITING_SEGMENTS waiting behind the one uploading, or an upload failed, it fails
 * (`failure`), drops what it holds and takes nothing more. Samples go up as the machine holds them: little-endian on
 * every platform Node's AWS targets run on.
 */
export class SegmentWriter {
  private buffer: Int16Array;
  private filled = 0;
  private seq = 0;
  private waiting = 0;
  private chain: Promise<void> = Promise.resolve();
  /** Why it failed, once it has; null while it is fine. */
  failure: Error | null = null;
  /** Samples taken so far (all channels). */
  private samples = 0;
  /**
   * Samples the segment being filled holds when full: the first a random 50-100% of a segment, so that recordings
   * begun together (every call of a busy moment) do not all upload in the same tick; then whole segments.
   */
  private limit: number;

  constructor(
    private readonly objects: Pick<RecordingObjects, 'putSegment'>,
    private readonly key: string,
    private readonly format: RecordingFormat,
    /** Told once, as it fails (the recording then ends without waiting for its stop). */
    private readonly onFailure: (err: Error) => void,
  ) {
    this.buffer = new Int16Array(RECORDING_SEGMENT_SECONDS * format.sampleRate * format.channels);
    const half = this.buffer.length / 2 / format.channels;
    this.limit = (half + Math.floor(Math.random() * half)) * format.channels;
  }

  /** Seconds of audio taken so far. */
  get seconds(): number {
    return this.samples / (this.format.sampleRate * this.format.channels);
  }

  write(pcm: Int16Array): void {
    if (this.failure) return;
    this.samples += pcm.length;
    let from = 0;
    while (from < pcm.length) {
      const n = Math.min(pcm.length - from, this.limit - this.filled);
      this.buffer.set(from === 0 && n === pcm.length ? pcm : pcm.subarray(from, from + n), this.filled);
      this.filled += n;
      from += n;
      if (this.filled === this.limit) {
        this.upload(this.buffer.subarray(0, this.limit));
        if (this.failure) return;
        this.buffer = new Int16Array(this.buffer.length);
        this.filled = 0;
        this.limit = this.buffer.length;
      }
    }
  }

  /** The rest uploaded and every upload done; throws why it failed, if it did. */
  async finish(): Promise<void> {
    if (!this.failure && this.filled > 0) this.upload(this.buffer.subarray(0, this.filled));
    this.filled = 0;
    await this.chain;
    if (this.failure) throw this.failure;
  }

  private upload(samples: Int16Array): void {
    // The one uploading, and those waiting behind it.
    if (++this.waiting > MAX_WAITING_SEGMENTS + 1) return this.fail(new Error(`over ${MAX_WAITING_SEGMENTS} segments waiting to upload: the bucket is unreachable or too slow`));
    const seq = ++this.seq;
    const bytes = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        await this.objects.putSegment(this.key, seq, bytes);
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
    this.onFailure(err);
  }
}
