import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../../core/aws';
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
