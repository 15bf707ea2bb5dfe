import { CreateTableCommand, DescribeTableCommand, ResourceInUseException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TABLE_KEYS } from '../core/dynamo';
import { startKmsEmulator } from './kms-emulator';

// dynalite ships no types; this is the part of its API we use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;

/** Local stand-ins for the AWS services the control plane uses, speaking AWS's own wire protocols. */
export interface LocalAws {
  readonly dynamodbEndpoint: string;
  readonly kmsEndpoint: string;
  close(): Promise<void>;
}

export const LOCAL_TABLE_NAME = 'plivo-connector';
export const LOCAL_KMS_KEY_ID = 'alias/plivo-connector-data';

/**
 * Starts dynalite (persisted under `dataDir/dynamodb`, or in memory when `dataDir` is undefined)
 * and the KMS emulator, both on loopback ports chosen by the OS.
 */
export async function startLocalAws(dataDir: string | undefined, kmsDir: string): Promise<LocalAws> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const server = dynalite({
    ...(dataDir && { path: join(dataDir, 'dynamodb') }),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const kms = await startKmsEmulator(kmsDir);
  return {
    dynamodbEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    kmsEndpoint: kms.endpoint,
    close: async () => {
      await kms.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Creates the control table as the CDK stack defines it, if it is not there yet. */
export async function ensureControlTable(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
          { AttributeName: TABLE_KEYS.byTime.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE_KEYS.byTime.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: TABLE_KEYS.byTime.indexName,
            KeySchema: [
              { AttributeName: TABLE_KEYS.byTime.partitionKey, KeyType: 'HASH' },
              { AttributeName: TABLE_KEYS.byTime.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  for (let i = 0; i < 100; i++) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Table ${tableName} did not become ACTIVE`);
}
