import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { s3Client } from '../../core/aws';
import { mulawDecode } from '../../core/mulaw';
import { segmentCodec, segmentPrefix, type RecordingFormat } from '../../core/recordings/model';
import { PART_BYTES, RecordingObjects } from '../../core/recordings/objects';
import { useRecordingBucket } from '../support/s3';

const BUCKET = 'recordings-test';
/** A phone call's: its segments are mu-law. */
const CALL: RecordingFormat = { format: 'wav', channels: 2, sampleRate: 8000 };
/** A wideband call's and a room's: their segments are PCM16. */
const WIDE_CALL: RecordingFormat = { format: 'wav', channels: 2, sampleRate: 16000 };
const ROOM: RecordingFormat = { format: 'wav', channels: 1, sampleRate: 16000 };

const s3 = useRecordingBucket(BUCKET);

/** `bytes` of PCM whose every 16-bit sample is `value`. */
const pcm = (bytes: number, value: number) => {
  const buffer = Buffer.alloc(bytes);
  for (let i = 0; i + 1 < bytes; i += 2) buffer.writeInt16LE(value, i);
  return buffer;
};
/** `bytes` mu-law codes, each `code`. */
const mulaw = (bytes: number, code: number) => Buffer.alloc(bytes, code);
/** The PCM16 sample mu-law `code` stands for. */
const linear = (code: number) => mulawDecode(Uint8Array.of(code))[0] as number;

test("a recording's segments are mu-law at 8 kHz, PCM16 at every other rate", () => {
  expect(segmentCodec(CALL)).toBe('mulaw');
  expect(segmentCodec({ format: 'wav', channels: 1, sampleRate: 8000 })).toBe('mulaw');
  for (const sampleRate of [16000, 24000, 48000]) expect(segmentCodec({ format: 'wav', channels: 2, sampleRate })).toBe('pcm16');
});

async function download(key: string): Promise<Buffer> {
  const response = await fetch(await s3.objects.presign(key, 60));
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

async function keysUnder(prefix: string): Promise<string[]> {
  const page = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key ?? '');
}

test('assembles the segments in order into one WAV with the right header, and deletes them', async () => {
  const key = 'tenant-a/room-1/ss_1/rec_small.wav';
  // Out of order on purpose: the sequence numbers order them, not the upload.
  await s3.objects.putSegment(key, 2, pcm(3200, 2));
  await s3.objects.putSegment(key, 1, pcm(3200, 1));
  await s3.objects.putSegment(key, 3, pcm(1600, 3));
  expect(await s3.objects.assemble(key, WIDE_CALL)).toEqual({ size: 44 + 8000, duration: 8000 / 64000 });
  const wav = await download(key);
  expect(wav.length).toBe(44 + 8000);
  expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
  expect(wav.readUInt32LE(4)).toBe(36 + 8000);
  expect(wav.readUInt16LE(22)).toBe(2);
  expect(wav.readUInt32LE(24)).toBe(16000);
  expect(wav.readUInt32LE(28)).toBe(64000);
  expect(wav.readUInt16LE(32)).toBe(4);
  expect(wav.readUInt32LE(40)).toBe(8000);
  expect([wav.readInt16LE(44), wav.readInt16LE(44 + 3200), wav.readInt16LE(44 + 6400), wav.readInt16LE(44 + 7998)]).toEqual([1, 2, 3, 3]);
  expect(await keysUnder(segmentPrefix(key))).toEqual([]);
});

test('mu-law segments (8 kHz) are expanded into a PCM16 WAV: twice their bytes, in order, the header as any', async () => {
  const key = 'tenant-a/room-1/ss_1/rec_mulaw.wav';
  // 0x80 and 0x00: loud, either sign; 0xff: silence (0).
  await s3.objects.putSegment(key, 2, mulaw(1600, 0x00));
  await s3.objects.putSegment(key, 1, mulaw(1600, 0x80));
  await s3.objects.putSegment(key, 3, mulaw(800, 0xff));
  const assembled = await s3.objects.assemble(key, CALL);
  expect(assembled).toEqual({ size: 44 + 8000, duration: 8000 / 32000 });
  const wav = await download(key);
  expect(wav.length).toBe(44 + 8000);
  expect([wav.readUInt32LE(4), wav.readUInt16LE(20), wav.readUInt16LE(22), wav.readUInt32LE(24), wav.readUInt32LE(28), wav.readUInt16LE(32), wav.readUInt16LE(34), wav.readUInt32LE(40)]).toEqual([36 + 8000, 1, 2, 8000, 32000, 4, 16, 8000]);
  expect([linear(0x80), linear(0x00), linear(0xff)]).toEqual([32124, -32124, 0]);
  const samples = [0, 1599, 1600, 3199, 3200, 3999].map((i) => wav.readInt16LE(44 + i * 2));
  expect(samples).toEqual([32124, 32124, -32124, -32124, 0, 0]);
  expect(await keysUnder(segmentPrefix(key))).toEqual([]);
  // Assembled again: the WAV's own size and duration.
  expect(await s3.objects.assemble(key, CALL)).toEqual(assembled);
});

test.each([
  ['PCM16 (16 kHz)', WIDE_CALL, 1_920_000, (seq: number) => pcm(1_920_000, seq), (seq: number) => seq],
  // A mu-law segment of 960,000 bytes is 1,920,000 of the WAV: parts are counted in the WAV's bytes.
  ['mu-law (8 kHz)', CALL, 960_000, (seq: number) => mulaw(960_000, 0x80 + seq), (seq: number) => linear(0x80 + seq)],
])('a %s recording over a part is uploaded in parts of S3 minimum size, bytes in order', async (_, format, segmentBytes, segment, sample) => {
  const key = `tenant-a/room-1/ss_1/rec_large_${format.sampleRate}.wav`;
  const wavSegment = 1_920_000; // 30 s of a call at 8 kHz as PCM16, 15 s at 16 kHz
  const count = Math.ceil((PART_BYTES * 2) / wavSegment);
  for (let seq = 1; seq <= count; seq++) await s3.objects.putSegment(key, seq, segment(seq));
  const segmentsUp = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: segmentPrefix(key) }));
  expect((segmentsUp.Contents ?? []).map((o) => o.Size)).toEqual(Array.from({ length: count }, () => segmentBytes));
  const assembled = await s3.objects.assemble(key, format);
  expect(assembled).toEqual({ size: 44 + wavSegment * count, duration: (wavSegment * count) / (format.sampleRate * 4) });
  const wav = await download(key);
  expect(wav.length).toBe(44 + wavSegment * count);
  for (let seq = 1; seq <= count; seq++) {
    expect(wav.readInt16LE(44 + (seq - 1) * wavSegment)).toBe(sample(seq));
    expect(wav.readInt16LE(44 + seq * wavSegment - 2)).toBe(sample(seq));
  }
  // Around each part's edge (PART_BYTES of the WAV, header included), the samples are those of the segment there.
  for (const edge of [PART_BYTES, PART_BYTES * 2]) {
    const at = edge - 44 - ((edge - 44) % 2);
    expect(wav.readInt16LE(44 + at)).toBe(sample(Math.floor(at / wavSegment) + 1));
  }
  expect(await keysUnder(segmentPrefix(key))).toEqual([]);
});

test('assembling again finds the WAV already written; nothing at all is null', async () => {
  const key = 'tenant-a/room-1/ss_1/rec_again.wav';
  await s3.objects.putSegment(key, 1, pcm(640, 7));
  const first = await s3.objects.assemble(key, ROOM);
  expect(first).toEqual({ size: 44 + 640, duration: 640 / 32000 });
  expect(await s3.objects.assemble(key, ROOM)).toEqual(first);
  expect(await s3.objects.assemble('tenant-a/room-1/ss_1/rec_none.wav', ROOM)).toBeNull();
});

test('a torn last sample frame is left out, never a misaligned channel', async () => {
  const key = 'tenant-a/room-1/ss_1/rec_torn.wav';
  await s3.objects.putSegment(key, 1, pcm(402, 5));
  expect(await s3.objects.assemble(key, WIDE_CALL)).toEqual({ size: 44 + 400, duration: 400 / 64000 });
  // Mu-law: 201 codes, 100 stereo sample frames and half of one.
  const coded = 'tenant-a/room-1/ss_1/rec_torn_mulaw.wav';
  await s3.objects.putSegment(coded, 1, mulaw(201, 0x80));
  expect(await s3.objects.assemble(coded, CALL)).toEqual({ size: 44 + 400, duration: 400 / 32000 });
});

test('delete removes the WAV and any segment left', async () => {
  const key = 'tenant-b/room-2/ss_2/rec_gone.wav';
  await s3.objects.putSegment(key, 1, pcm(320, 1));
  await s3.objects.assemble(key, ROOM);
  await s3.objects.putSegment(key, 2, pcm(320, 1));
  await s3.objects.delete(key);
  await expect(s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).rejects.toMatchObject({ name: 'NotFound' });
  expect(await keysUnder('tenant-b/')).toEqual([]);
});

test('audio uploads are signed without a hash of their body; the signature covers their key, type and length', async () => {
  // What the signer put on each request, read at the last step before it is sent (the SDK's own middleware stack).
  const sent: { command: string; sha256: string; signed: string; path: string }[] = [];
  const client = s3Client({ region: 'us-east-1', s3Endpoint: s3.endpoint }, 'us-east-1');
  client.middlewareStack.add(
    (next, context) => (args) => {
      const { headers, path } = args.request as { headers: Record<string, string>; path: string };
      sent.push({ command: context.commandName ?? '', sha256: headers['x-amz-content-sha256'] ?? '', signed: /SignedHeaders=([^,]+)/.exec(headers.authorization ?? '')?.[1] ?? '', path });
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'readSigned' },
  );
  const signed = new RecordingObjects(client, BUCKET);
  const key = 'tenant-a/room-1/ss_1/rec_unsigned.wav';
  await signed.putSegment(key, 1, pcm(3200, 5));
  await signed.assemble(key, WIDE_CALL);
  client.destroy();
  const uploads = sent.filter((s) => s.command === 'PutObjectCommand');
  expect(uploads.map((s) => s.path)).toEqual([expect.stringContaining(`${segmentPrefix(key)}`), `/${BUCKET}/${key}`]);
  for (const upload of uploads) {
    expect(upload.sha256).toBe('UNSIGNED-PAYLOAD');
    expect(upload.signed.split(';')).toEqual(expect.arrayContaining(['host', 'content-length', 'content-type', 'x-amz-content-sha256', 'x-amz-date']));
  }
  // Requests without audio keep the body's hash (an empty body's here).
  expect(sent.find((s) => s.command === 'ListObjectsV2Command')?.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect((await download(key)).subarray(44)).toEqual(pcm(3200, 5));
});
