import { isDeepStrictEqual } from 'node:util';
import { DynamoDBClient, GetItemCommand, type AttributeValue, type PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsClientConfig } from './config';
import { TABLE_KEYS } from './dynamo';

/**
 * Clients tuned for a request path that must answer fast: short connect and request timeouts, and
 * the SDK's own retries. Local emulators get fixed dummy credentials; in AWS the default chain applies.
 *
 * Per-request CPU, measured (GetItem, client side): `cacheMiddleware` resolves each command's
 * middleware once instead of on every send, and without a logger the SDK no longer walks every input
 * and output to redact it for a logger that discards it. Together 0.76 -> 0.57 ms per request.
 *
 * `throwOnRequestTimeout`: without it the SDK's HTTP handler (@smithy/node-http-handler 4.x) only logs a warning when
 * `requestTimeout` passes and goes on waiting, up to its 300 s socket timeout (a kept-alive socket that died silently, a
 * stalled endpoint): an Answer URL would wait past Plivo's own 15 s. With it the attempt fails as a `TimeoutError` and
 * is retried; DynamoDB's conditional creates then recognise their own earlier attempt (`ownRetriedCreates`). The
 * services answer well inside 3 s; a local emulator (dynalite, the KMS and SQS emulators, s3rver) under a laptop's or a
 * test suite's load may not, and aborting its slow answers only to ask again adds to its load: its requests get 30 s.
 */
const EMULATOR_REQUEST_TIMEOUT_MS = 30_000;
/** The HTTP handler's options for a client of `endpoint` (an emulator's when set). */
const requestHandler = (endpoint: string | undefined, requestTimeout = endpoint ? EMULATOR_REQUEST_TIMEOUT_MS : 3_000) => ({ connectionTimeout: 1_000, requestTimeout, throwOnRequestTimeout: true });
const fast = { maxAttempts: 3, cacheMiddleware: true } as const;

function withoutSdkLogging<C extends DynamoDBClient | KMSClient | SQSClient | S3Client>(client: C): C {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}
const localCredentials = { accessKeyId: 'local', secretAccessKey: 'local' };
/** The one access key the local S3 emulator (s3rver) knows; it refuses any other with InvalidAccessKeyId. */
const s3rverCredentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** `requestTimeoutMs`: how long an attempt may wait for its answer (3 s in AWS, 30 s against an emulator). */
export function dynamoClient(config: AwsClientConfig, requestTimeoutMs?: number): DynamoDBClient {
  return ownRetriedCreates(
    withoutSdkLogging(
      new DynamoDBClient({
        region: config.region,
        ...fast,
        requestHandler: requestHandler(config.dynamodbEndpoint, requestTimeoutMs),
        ...(config.dynamodbEndpoint && { endpoint: config.dynamodbEndpoint, credentials: localCredentials }),
      }),
    ),
  );
}

/**
 * A conditional create (`PutItem` on `attribute_not_exists`) whose first attempt DynamoDB carried out but whose answer
 * was lost (timed out, the connection reset) fails its own retry's condition. Such a failure after more than one
 * attempt is read back, consistently: when the item there is exactly the one this request wrote, the create succeeded,
 * and it answers as the first attempt would have. Any other item there is another writer's: the failure stands.
 */
function ownRetriedCreates(client: DynamoDBClient): DynamoDBClient {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        const input = args.input as Partial<PutItemCommandInput>;
        const { name, $metadata } = err as { name?: string; $metadata?: { attempts?: number } };
        const retried = name === 'ConditionalCheckFailedException' && ($metadata?.attempts ?? 1) > 1;
        if (!retried || context.commandName !== 'PutItemCommand' || !input.Item || input.ReturnValues || !input.ConditionExpression?.includes('attribute_not_exists')) throw err;
        const { partitionKey, sortKey } = TABLE_KEYS;
        const key = { [partitionKey]: input.Item[partitionKey] as AttributeValue, [sortKey]: input.Item[sortKey] as AttributeValue };
        const { Item } = await client.send(new GetItemCommand({ TableName: input.TableName, Key: key, ConsistentRead: true }));
        if (!isDeepStrictEqual(Item, input.Item)) throw err;
        return { output: { $metadata: $metadata ?? {} }, response: {} };
      }
    },
    { step: 'initialize', name: 'ownRetriedCreates' },
  );
  return client;
}

export function kmsClient(config: AwsClientConfig): KMSClient {
  return withoutSdkLogging(
    new KMSClient({
      region: config.region,
      ...fast,
      requestHandler: requestHandler(config.kmsEndpoint),
      ...(config.kmsEndpoint && { endpoint: config.kmsEndpoint, credentials: localCredentials }),
    }),
  );
}

/** `requestTimeoutMs`: longer for a client that long-polls (a receive may wait 20 s for a message). */
export function sqsClient(config: AwsClientConfig, requestTimeoutMs?: number): SQSClient {
  return withoutSdkLogging(
    new SQSClient({
      region: config.region,
      ...fast,
      requestHandler: requestHandler(config.sqsEndpoint, requestTimeoutMs),
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
      requestHandler: requestHandler(config.s3Endpoint, 30_000),
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
