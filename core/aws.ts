import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsClientConfig } from './config';

/**
 * Clients tuned for a request path that must answer fast: short connect and request timeouts, and
 * the SDK's own retries. Local emulators get fixed dummy credentials; in AWS the default chain applies.
 *
 * Per-request CPU, measured (GetItem, client side): `cacheMiddleware` resolves each command's
 * middleware once instead of on every send, and without a logger the SDK no longer walks every input
 * and output to redact it for a logger that discards it. Together 0.76 -> 0.57 ms per request.
 */
const requestHandler = { connectionTimeout: 1_000, requestTimeout: 3_000 };
const fast = { maxAttempts: 3, requestHandler, cacheMiddleware: true } as const;

function withoutSdkLogging<C extends DynamoDBClient | KMSClient | SQSClient>(client: C): C {
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}
const localCredentials = { accessKeyId: 'local', secretAccessKey: 'local' };

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
