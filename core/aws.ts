import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsClientConfig } from './config';

/**
 * Clients tuned for a request path that must answer fast: a short connect timeout, and
 * the SDK's own retries. Local emulators get fixed dummy credentials; in AWS the default chain applies.
 *
 * Per-request CPU, measured (GetItem, client side): `cacheMiddleware` resolves each command's
 * middleware once instead of on every send, and without a logger the SDK no longer walks every input
 * and output to redact it for a logger that discards it. Together 0.76 -> 0.57 ms per request.
 *
 * `requestTimeout` only warns in this SDK (@smithy/node-http-handler 4.x) unless `throwOnRequestTimeout` is set; it is
 * not set yet: a timed-out attempt that the service did carry out is retried, and the stores' conditional creates
 * (`attribute_not_exists`) would then fail their own retry (docs/BENCHMARKS.md, "The AWS SDK's CPU per DynamoDB request").
 */
const requestHandler = { connectionTimeout: 1_000, requestTimeout: 3_000 };
const fast = { maxAttempts: 3, requestHandler, cacheMiddleware: true } as const;

function withoutSdkLogging<C extends DynamoDBClient | KMSClient | SQSClient | S3Client>(client: C): C {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}
const localCredentials = { accessKeyId: 'local', secretAccessKey: 'local' };
/** The one access key the local S3 emulator (s3rver) knows; it refuses any other with InvalidAccessKeyId. */
const s3rverCredentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export function dynamoClient(config: AwsClientConfig): DynamoDBClient {
  return withoutSdkLogging(
    new DynamoDBClient({
      region: config.region,
      ...fast,
      ...(config.dynamodbEndpoint && { endpoint: config.dynamodbEndpoint, credentials: localCredentials }),
    }),
  );
}

export function kmsClient(config: AwsClientConfig): KMSClient {
  return withoutSdkLogging(
    new KMSClient({
      region: config.region,
      ...fast,
      ...(config.kmsEndpoint && { endpoint: config.kmsEndpoint, credentials: localCredentials }),
    }),
  );
}

/** `requestTimeoutMs`: longer for a client that long-polls (a receive may wait 20 s for a message). */
export function sqsClient(config: AwsClientConfig, requestTimeoutMs = requestHandler.requestTimeout): SQSClient {
  return withoutSdkLogging(
    new SQSClient({
      region: config.region,
      ...fast,
      requestHandler: { ...requestHandler, requestTimeout: requestTimeoutMs },
      ...(config.sqsEndpoint && { endpoint: config.sqsEndpoint, credentials: localCredentials }),
    }),
  );
}

/** The S3 requests whose bodies are audio (recordings' segments, WAVs, parts): signed without hashing them. */
const AUDIO_UPLOADS = new Set(['PutObjectCommand', 'UploadPartCommand']);

/**
 * The recordings bucket of a media region (`awsRegion`: the bucket's, not the control plane's). Longer request timeout:
 * a segment or an assembled part is up to a few megabytes. Path-style against the local emulator.
 *
 * Neither a CRC32 nor a SHA-256 of an upload's body is computed in JavaScript on the media server's one thread (every
 * segment is 160-320 KB, 15 a second at 100 recorded calls): S3 requires no checksum for these requests, and an
 * upload is signed with SigV4's `UNSIGNED-PAYLOAD`, so the signature covers the method, bucket, key, content type and
 * length but not the body, which TLS protects in transit (the buckets refuse plain HTTP: `enforceSSL`,
 * lib/constructs/recordings-bucket.ts). Set on the client's stack as a header before signing, which the signer then
 * uses (a command's own middleware would be ignored: `cacheMiddleware`).
 */
export function s3Client(config: AwsClientConfig, awsRegion: string): S3Client {
  const client = withoutSdkLogging(
    new S3Client({
      region: awsRegion,
      ...fast,
      requestHandler: { ...requestHandler, requestTimeout: 30_000 },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(config.s3Endpoint && { endpoint: config.s3Endpoint, forcePathStyle: true, credentials: s3rverCredentials }),
    }),
  );
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (AUDIO_UPLOADS.has(context.commandName ?? '')) (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'unsignedAudioPayload' },
  );
  return client;
}
