import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { s3Client } from '../../core/aws';
import { segmentPrefix, type RecordingFormat } from '../../core/recordings/model';
import { PART_BYTES, RecordingObjects } from '../../core/recordings/objects';
import { useRecordingBucket } from '../support/s3';

const BUCKET = 'recordings-test';
const CALL: RecordingFormat = { format: 'wav', channels: 2, sampleRate: 8000 };
const ROOM: RecordingFormat = { format: 'wav', channels: 1, sampleRate: 16000 };

const s3 = useRecordingBucket(BUCKET);

/** `bytes` of PCM whose every 16-bit sample is `value`. */
const pcm = (bytes: number, value: number) => {
  const buffer = Buffer.alloc(bytes);
  for (let i = 0; i + 1 < bytes; i += 2) buffer.writeInt16LE(value, i);
  return buffer;
};

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
  expect(await s3.objects.assemble(key, CALL)).toEqual({ size: 44 + 8000, duration: 8000 / 32000 });
  const wav = await download(key);
  expect(wav.length).toBe(44 + 8000);
  expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
  expect(wav.readUInt32LE(4)).toBe(36 + 8000);
  expect(wav.readUInt16LE(22)).toBe(2);
  expect(wav.readUInt32LE(24)).toBe(8000);
  expect(wav.readUInt32LE(28)).toBe(32000);
  expect(wav.readUInt16LE(32)).toBe(4);
  expect(wav.readUInt32LE(40)).toBe(8000);
  expect([wav.readInt16LE(44), wav.readInt16LE(44 + 3200), wav.readInt16LE(44 + 6400), wav.readInt16LE(44 + 7998)]).toEqual([1, 2, 3, 3]);
  expect(await keysUnder(segmentPrefix(key))).toEqual([]);
});

test('a recording over a part is uploaded in parts of S3 minimum size, bytes in order', async () => {
  const key = 'tenant-a/room-1/ss_1/rec_large.wav';
  const segment = 960_000; // 30 s of a call
  const count = Math.ceil((PART_BYTES * 2) / segment);
  for (let seq = 1; seq <= count; seq++) await s3.objects.putSegment(key, seq, pcm(segment, seq));
  const assembled = await s3.objects.assemble(key, CALL);
  expect(assembled).toEqual({ size: 44 + segment * count, duration: (segment * count) / 32000 });
  const wav = await download(key);
  expect(wav.length).toBe(44 + segment * count);
  for (let seq = 1; seq <= count; seq++) {
    expect(wav.readInt16LE(44 + (seq - 1) * segment)).toBe(seq);
    expect(wav.readInt16LE(44 + seq * segment - 2)).toBe(seq);
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
  expect(await s3.objects.assemble(key, CALL)).toEqual({ size: 44 + 400, duration: 400 / 32000 });
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
  await signed.assemble(key, CALL);
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
