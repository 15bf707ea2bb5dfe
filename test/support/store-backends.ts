import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dynamoClient } from '../../core/aws';
import { startLocalAws } from '../../local/aws';
import { javaAvailable, startDynamoDbLocal } from './dynamodb-local';

/** A DynamoDB to run a store's tests against. */
export interface Backend {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/**
 * Every DynamoDB this project meets: dynalite (the embedded default) and Amazon's DynamoDB Local (closest to the
 * real service) when Java is present, as `describe.each` takes them.
 */
export const storeBackends: [string, () => Promise<Backend>][] = [
  [
    'dynalite',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kms-'));
      const aws = await startLocalAws(undefined, dir);
      return {
        endpoint: aws.dynamodbEndpoint,
        stop: async () => {
          await aws.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  ],
];
if (javaAvailable()) storeBackends.push(['DynamoDB Local', startDynamoDbLocal]);
else if (process.env.CI) throw new Error('CI must run the store tests against DynamoDB Local: install Java 17');

/**
 * A client of `endpoint` whose conditional deletes fail as throttled (every other request goes through): what a
 * store's best-effort removal of a pointer or a lock meets when the table is busy.
 */
export function clientFailingConditionalDeletes(endpoint: string): DynamoDBClient {
  const client = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: endpoint });
  client.middlewareStack.add(
    (next) => (args) => {
      if ('ConditionExpression' in args.input && !('UpdateExpression' in args.input) && !('Item' in args.input)) throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
      return next(args);
    },
    { step: 'initialize' },
  );
  return client;
}
