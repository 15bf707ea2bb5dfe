import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { s3Client } from '../../core/aws';

export interface TestS3 {
  readonly endpoint: string;
  readonly client: S3Client;
  close(): Promise<void>;
}

/** s3rver on a loopback port in this process (data in a temp dir, removed on close), with `buckets` created. */
export async function startTestS3(...buckets: string[]): Promise<TestS3> {
  const directory = mkdtempSync(path.join(tmpdir(), 's3-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', directory, silent: true });
  const { port } = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${port}`;
  const client = s3Client({ region: 'us-east-1', s3Endpoint: endpoint }, 'us-east-1');
  const close = async () => {
    client.destroy();
    await server.close();
    rmSync(directory, { recursive: true, force: true });
  };
  try {
    for (const Bucket of buckets) await client.send(new CreateBucketCommand({ Bucket }));
  } catch (err) {
    // A server left open would hold the test process past its end.
    await close();
    throw err;
  }
  return { endpoint, client, close };
}
