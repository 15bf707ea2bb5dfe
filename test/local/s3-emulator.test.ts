import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { s3Client } from '../../core/aws';
import { LOCAL_RECORDINGS_BUCKET, startLocalAws, startS3rver, type LocalAws } from '../../local/aws';
import { localControlPlaneConfig, localControlPlaneEnv, localMediaEnv } from '../../local/config';

/**
 * `npm start`'s S3: s3rver in-process, with the recordings bucket made at start, reached by the same @aws-sdk/client-s3
 * code as in AWS, and by presigned URLs from any HTTP client.
 */
const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
const started: { aws: LocalAws; s3: S3Client }[] = [];
async function start(dataDir: string | undefined): Promise<{ aws: LocalAws; s3: S3Client }> {
  const aws = await startLocalAws(dataDir, tempDir('s3-emulator-kms-'));
  const s3 = s3Client({ region: 'us-east-1', s3Endpoint: aws.s3Endpoint }, 'ap-south-1');
  const running = { aws, s3 };
  started.push(running);
  return running;
}
async function stop(running: { aws: LocalAws; s3: S3Client }): Promise<void> {
  started.splice(started.indexOf(running), 1);
  running.s3.destroy();
  await running.aws.close();
}

afterEach(async () => {
  for (const running of [...started]) await stop(running);
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const body = (n: number, fill: number) => Buffer.alloc(n, fill);

it('serves the recordings bucket: a presigned GET downloads with plain fetch, with its length and bytes', async () => {
  const { s3 } = await start(undefined);
  const audio = Buffer.concat([body(44, 1), body(16_000, 7)]);
  await s3.send(new PutObjectCommand({ Bucket: LOCAL_RECORDINGS_BUCKET, Key: 'demo/room/ses/rec_1.wav', Body: audio, ContentType: 'audio/wav' }));

  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: LOCAL_RECORDINGS_BUCKET, Key: 'demo/room/ses/rec_1.wav' }), { expiresIn: 900 });
  expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/${LOCAL_RECORDINGS_BUCKET}/demo/room/ses/rec_1\\.wav\\?.*X-Amz-Expires=900`));
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('audio/wav');
  expect(Buffer.from(await res.arrayBuffer()).equals(audio)).toBe(true);
  expect((await fetch(url.replace('rec_1.wav', 'rec_2.wav'))).status).toBe(404);
});

it('takes multipart uploads and lists a prefix, as segment assembly needs', async () => {
  const { s3 } = await start(undefined);
  const Key = 'demo/room/ses/rec_2.wav';
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: LOCAL_RECORDINGS_BUCKET, Key }));
  const parts = [body(5 * 1024 * 1024, 1), body(1000, 2)];
  const etags = [];
  for (const [i, part] of parts.entries()) {
    etags.push((await s3.send(new UploadPartCommand({ Bucket: LOCAL_RECORDINGS_BUCKET, Key, UploadId, PartNumber: i + 1, Body: part }))).ETag);
  }
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: LOCAL_RECORDINGS_BUCKET,
      Key,
      UploadId,
      MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
    }),
  );
  await s3.send(new PutObjectCommand({ Bucket: LOCAL_RECORDINGS_BUCKET, Key: `${Key}.segments/000001`, Body: body(10, 3) }));

  const listed = await s3.send(new ListObjectsV2Command({ Bucket: LOCAL_RECORDINGS_BUCKET, Prefix: 'demo/room/' }));
  expect(listed.Contents?.map((o) => [o.Key, o.Size])).toEqual([
    [Key, parts[0]!.length + parts[1]!.length],
    [`${Key}.segments/000001`, 10],
  ]);
});

it('keeps objects across a restart under DATA_DIR/s3, as npm start runs it', async () => {
  const dataDir = tempDir('s3-emulator-data-');
  const first = await start(dataDir);
  await first.s3.send(new PutObjectCommand({ Bucket: LOCAL_RECORDINGS_BUCKET, Key: 'demo/kept.wav', Body: body(100, 9) }));
  await stop(first);
  expect(existsSync(join(dataDir, 's3', LOCAL_RECORDINGS_BUCKET))).toBe(true);

  const second = await start(dataDir);
  const got = await second.s3.send(new GetObjectCommand({ Bucket: LOCAL_RECORDINGS_BUCKET, Key: 'demo/kept.wav' }));
  expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body(100, 9))).toBe(true);
});

it('without a directory keeps its files in a temporary directory, removed on close', async () => {
  const emulator = await startS3rver(undefined);
  const s3 = s3Client({ region: 'us-east-1', s3Endpoint: emulator.endpoint }, 'us-east-1');
  await s3.send(new PutObjectCommand({ Bucket: LOCAL_RECORDINGS_BUCKET, Key: 'gone.wav', Body: body(1, 1) }));
  s3.destroy();
  expect(existsSync(join(emulator.directory, LOCAL_RECORDINGS_BUCKET))).toBe(true);
  await emulator.close();
  expect(existsSync(emulator.directory)).toBe(false);
});

it('refuses an expired presigned URL, but checks no signature: a tampered one still downloads (README)', async () => {
  const { s3 } = await start(undefined);
  await s3.send(new PutObjectCommand({ Bucket: LOCAL_RECORDINGS_BUCKET, Key: 'demo/x.wav', Body: body(8, 1) }));
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: LOCAL_RECORDINGS_BUCKET, Key: 'demo/x.wav' }), { expiresIn: 1 });
  const tampered = url.replace(/X-Amz-Signature=[0-9a-f]+/, `X-Amz-Signature=${'0'.repeat(64)}`);
  expect(tampered).not.toBe(url);
  expect((await fetch(tampered)).status).toBe(200);
  await new Promise((resolve) => setTimeout(resolve, 2100));
  const expired = await fetch(url);
  expect(expired.status).toBe(403);
  expect(await expired.text()).toContain('Request has expired');
});

it('is S3_ENDPOINT for the API, the sweeper and every media server', () => {
  const endpoints = { dynamodbEndpoint: 'http://127.0.0.1:1', kmsEndpoint: 'http://127.0.0.1:2', sqsEndpoint: 'http://127.0.0.1:3', s3Endpoint: 'http://127.0.0.1:4' };
  const control = localControlPlaneEnv({}, endpoints, { queueUrl: 'http://127.0.0.1:3/q', deadLetterQueueUrl: 'http://127.0.0.1:3/dlq' }, 'http://127.0.0.1:8080');
  const config = localControlPlaneConfig(control);
  expect(config.aws.s3Endpoint).toBe('http://127.0.0.1:4');
  expect(config.mediaRegions.map((region) => region.recordingsBucket)).toEqual([LOCAL_RECORDINGS_BUCKET, LOCAL_RECORDINGS_BUCKET]);
  expect(localMediaEnv({}, control, 'in002').S3_ENDPOINT).toBe('http://127.0.0.1:4');
});
