import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { mulawDecode } from '../mulaw';
import { bytesPerSecond, segmentCodec, segmentKey, segmentPrefix, type RecordingFormat, type SegmentCodec } from './model';

/**
 * S3's smallest part of a multipart upload (but the last), in bytes of the WAV: an assembly holds at most this much
 * (plus one segment, as PCM16).
 */
export const PART_BYTES = 5 * 1024 * 1024;
const WAV_HEADER_BYTES = 44;

/** The canonical 44-byte header of a PCM16 WAV holding `dataBytes` of samples. */
export function wavHeader({ channels, sampleRate }: RecordingFormat, dataBytes: number): Buffer {
  const header = Buffer.alloc(WAV_HEADER_BYTES);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * channels * 2, 28);
  header.writeUInt16LE(channels * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataBytes, 40);
  return header;
}

/** What an assembled recording holds. */
export interface Assembled {
  /** Bytes of the WAV object. */
  readonly size: number;
  /** Seconds of audio. */
  readonly duration: number;
}

interface Segment {
  readonly key: string;
  readonly size: number;
}

/**
 * A media region's recordings bucket. Audio goes up as it is recorded, one object per segment (`putSegment`: raw
 * samples in the format's `segmentCodec`, interleaved: mu-law bytes at 8 kHz, else PCM16LE), so a process that dies
 * loses only what it had not yet sent; `assemble` then writes the PCM16 WAV at the recording's key from whatever
 * segments there are, mu-law expanded to PCM16 (one PUT, or a multipart upload of PART_BYTES parts) and deletes them.
 * The same assembly finishes a recording that stopped (the media server) and one whose server died (the sweeper). It
 * may be run again after it failed or died midway: the segments are deleted only once the WAV is whole, and with no
 * segment left it answers the WAV already there.
 */
export class RecordingObjects {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async putSegment(key: string, seq: number, samples: Uint8Array): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: segmentKey(key, seq), Body: samples, ContentType: 'application/octet-stream' }));
  }

  /** Writes the WAV from the segments and deletes them; null when there is neither segment nor WAV (nothing survived). */
  async assemble(key: string, format: RecordingFormat): Promise<Assembled | null> {
    const segments = await this.segments(key);
    if (segments.length === 0) return this.existing(key, format);
    const codec = segmentCodec(format);
    // A mu-law byte is a PCM16 sample: two bytes of the WAV.
    const widening = codec === 'mulaw' ? 2 : 1;
    // Whole sample frames only: a segment is always made of them, so this drops nothing but a torn write.
    const frameBytes = format.channels * 2;
    let dataBytes = segments.reduce((sum, s) => sum + s.size * widening, 0);
    dataBytes -= dataBytes % frameBytes;
    const header = wavHeader(format, dataBytes);
    if (WAV_HEADER_BYTES + dataBytes <= PART_BYTES) {
      const body = Buffer.concat([header, ...(await Promise.all(segments.map((s) => this.readPcm(s.key, codec))))]).subarray(0, WAV_HEADER_BYTES + dataBytes);
      await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'audio/wav' }));
    } else await this.multipart(key, header, segments, codec, WAV_HEADER_BYTES + dataBytes);
    await this.deleteKeys(segments.map((s) => s.key));
    return { size: WAV_HEADER_BYTES + dataBytes, duration: dataBytes / bytesPerSecond(format) };
  }

  /** Deletes the recording's WAV and any segment left. */
  async delete(key: string): Promise<void> {
    const segments = await this.segments(key);
    await this.deleteKeys([key, ...segments.map((s) => s.key)]);
  }

  /** A GET URL for the WAV, signed with this client's credentials, valid for `seconds`. */
  presign(key: string, seconds: number): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: seconds });
  }

  private async multipart(key: string, header: Buffer, segments: readonly Segment[], codec: SegmentCodec, total: number): Promise<void> {
    const { UploadId } = await this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: 'audio/wav' }));
    const parts: { PartNumber: number; ETag: string | undefined }[] = [];
    try {
      let pending: Buffer[] = [header];
      let pendingBytes = header.length;
      let remaining = total - header.length;
      const upload = async (body: Buffer) => {
        const PartNumber = parts.length + 1;
        const { ETag } = await this.s3.send(new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId, PartNumber, Body: body }));
        parts.push({ PartNumber, ETag });
      };
      for (const segment of segments) {
        if (remaining <= 0) break;
        const bytes = (await this.readPcm(segment.key, codec)).subarray(0, remaining);
        remaining -= bytes.length;
        pending.push(bytes);
        pendingBytes += bytes.length;
        if (pendingBytes >= PART_BYTES) {
          const body = Buffer.concat(pending);
          // Every part but the last is exactly PART_BYTES; the rest waits for the next.
          await upload(body.subarray(0, PART_BYTES));
          pending = [body.subarray(PART_BYTES)];
          pendingBytes = body.length - PART_BYTES;
        }
      }
      if (pendingBytes > 0) await upload(Buffer.concat(pending));
      await this.s3.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  /** The recording's segments, in order. */
  private async segments(key: string): Promise<Segment[]> {
    const found: Segment[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: segmentPrefix(key), ContinuationToken }));
      for (const object of page.Contents ?? []) if (object.Key) found.push({ key: object.Key, size: object.Size ?? 0 });
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return found.sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  /** The WAV an earlier assembly wrote, if any. */
  private async existing(key: string, format: RecordingFormat): Promise<Assembled | null> {
    try {
      const { ContentLength } = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const size = ContentLength ?? WAV_HEADER_BYTES;
      return { size, duration: (size - WAV_HEADER_BYTES) / bytesPerSecond(format) };
    } catch (err) {
      if ((err as { name?: string }).name === 'NotFound') return null;
      throw err;
    }
  }

  /** A segment's samples as PCM16 (as the machine holds them: little-endian where Node's AWS targets run). */
  private async readPcm(key: string, codec: SegmentCodec): Promise<Buffer> {
    const bytes = await this.read(key);
    if (codec === 'pcm16') return bytes;
    // Buffer.alloc never cuts from the shared pool: its own ArrayBuffer, aligned for the samples.
    const pcm = Buffer.alloc(bytes.length * 2);
    mulawDecode(bytes, new Int16Array(pcm.buffer, pcm.byteOffset, bytes.length));
    return pcm;
  }

  private async read(key: string): Promise<Buffer> {
    const { Body } = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return Buffer.from((await Body?.transformToByteArray()) ?? []);
  }

  private async deleteKeys(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
    }
  }
}
