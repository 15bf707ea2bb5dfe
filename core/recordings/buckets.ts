import type { S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../aws';
import type { AwsClientConfig } from '../config';
import { RecordingObjects } from './objects';

/**
 * The objects of a recordings bucket (`bucket` in `awsRegion`, as a recording's record names them): one S3 client per
 * AWS region, made on first use. What the API presigns and deletes with, and the sweeper assembles with.
 */
export function recordingBuckets(aws: AwsClientConfig): (awsRegion: string, bucket: string) => RecordingObjects {
  const clients = new Map<string, S3Client>();
  return (awsRegion, bucket) => {
    let s3 = clients.get(awsRegion);
    if (!s3) clients.set(awsRegion, (s3 = s3Client(aws, awsRegion)));
    return new RecordingObjects(s3, bucket);
  };
}
