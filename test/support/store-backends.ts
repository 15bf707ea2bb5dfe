import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../../core/aws';
import { ensureControlTable, startDynalite } from '../../local/aws';
import { dynamoDbLocalProblem, startDynamoDbLocal } from './dynamodb-local';

/** A DynamoDB to run a store's tests against. */
export interface Backend {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** dynalite as npm start runs it (its own process, in memory). */
export async function startDynaliteBackend(): Promise<Backend> {
  const { endpoint, close } = await startDynalite(undefined);
  return { endpoint, stop: close };
}

/**
 * Every DynamoDB this project meets: dynalite (the embedded default) and Amazon's DynamoDB Local (closest to the
 * real service) when it can run here (the optional package, Java 17), as `describe.each` takes them.
 */
export const storeBackends: [string, () => Promise<Backend>][] = [['dynalite', startDynaliteBackend]];
if (!dynamoDbLocalProblem()) storeBackends.push(['DynamoDB Local', startDynamoDbLocal]);
else if (process.env.CI) throw new Error(`CI must run the store tests against DynamoDB Local: ${dynamoDbLocalProblem()}`);
else process.stderr.write(`store tests against dynalite only, DynamoDB Local's skipped: ${dynamoDbLocalProblem()}\n`);

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

/** A backend with the control table in it, and a client of it. */
export interface StoreTable {
  readonly endpoint: string;
  readonly dynamo: DynamoDBClient;
}

/**
 * For a test file or a `describe.each(storeBackends)` block: the backend `start` gives, with the control table `table`
 * in it, started before the block's tests and stopped after them (its fields are there in the hooks registered after
 * this call, and in the tests).
 */
export function useStoreTable(start: () => Promise<Backend>, table: string): StoreTable {
  const used = {} as StoreTable;
  let backend: Backend;
  beforeAll(async () => {
    backend = await start();
    Object.assign(used, { endpoint: backend.endpoint, dynamo: dynamoClient({ region: 'us-east-1', dynamodbEndpoint: backend.endpoint }) });
    await ensureControlTable(used.dynamo, table);
  }, 60_000);
  afterAll(async () => {
    used.dynamo.destroy();
    await backend.stop();
  });
  return used;
}
