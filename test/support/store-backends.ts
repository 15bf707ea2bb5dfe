import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalAws } from '../../local/aws';
import { dynamoDbLocalProblem, startDynamoDbLocal } from './dynamodb-local';

/** A DynamoDB to run a store's tests against. */
export interface Backend {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/**
 * Every DynamoDB this project meets: dynalite (the embedded default) and Amazon's DynamoDB Local (closest to the
 * real service) when it can run here (the optional package, Java 17), as `describe.each` takes them.
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
if (!dynamoDbLocalProblem()) storeBackends.push(['DynamoDB Local', startDynamoDbLocal]);
else if (process.env.CI) throw new Error(`CI must run the store tests against DynamoDB Local: ${dynamoDbLocalProblem()}`);
else process.stderr.write(`store tests against dynalite only, DynamoDB Local's skipped: ${dynamoDbLocalProblem()}\n`);
