import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { AwsClientConfig } from './config';

/**
 * Clients tuned for a request path that must answer fast: short connect and request timeouts, and
 * the SDK's own retries. Local emulators get fixed dummy credentials; in AWS the default chain applies.
 */
const requestHandler = { connectionTimeout: 1_000, requestTimeout: 3_000 };
const localCredentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export function dynamoClient(config: AwsClientConfig): DynamoDBClient {
  return new DynamoDBClient({
    region: config.region,
    maxAttempts: 3,
    requestHandler,
    ...(config.dynamodbEndpoint && { endpoint: config.dynamodbEndpoint, credentials: localCredentials }),
  });
}

export function kmsClient(config: AwsClientConfig): KMSClient {
  return new KMSClient({
    region: config.region,
    maxAttempts: 3,
    requestHandler,
    ...(config.kmsEndpoint && { endpoint: config.kmsEndpoint, credentials: localCredentials }),
  });
}
