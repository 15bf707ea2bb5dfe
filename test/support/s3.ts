import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../../core/aws';
import { RecordingObjects } from '../../core/recordings/objects';
import { startS3rver } from '../../local/aws';

export interface TestS3 {
  readonly endpoint: string;
  readonly client: S3Client;
  close(): Promise<void>;
}

/** npm start's S3 emulator on a loopback port (data in a temp dir, removed on close), with `buckets` created too. */
export async function startTestS3(...buckets: string[]): Promise<TestS3> {
  const s3 = await startS3rver(undefined);
  const client = s3Client({ region: 'us-east-1', s3Endpoint: s3.endpoint }, 'us-east-1');
  const close = async () => {
    client.destroy();
    await s3.close();
  };
  try {
    for (const Bucket of buckets) await client.send(new CreateBucketCommand({ Bucket }));
  } catch (err) {
    // A server left open would hold the test process past its end.
    await close();
    throw err;
  }
  return { endpoint: s3.endpoint, client, close };
}

/**
 * For a test file: the S3 emulator with `bucket`, and the recordings' objects in it, started before the file's tests
 * and closed after them (its fields are there from the first test on).
 */
export function useRecordingBucket(bucket: string): TestS3 & { readonly objects: RecordingObjects } {
  const used = {} as TestS3 & { objects: RecordingObjects };
  beforeAll(async () => {
    const s3 = await startTestS3(bucket);
    Object.assign(used, s3, { objects: new RecordingObjects(s3.client, bucket) });
  });
  afterAll(() => used.close());
  return used;
}
