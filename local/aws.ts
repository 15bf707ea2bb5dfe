import { CreateTableCommand, DescribeTableCommand, ResourceInUseException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TABLE_KEYS } from '../core/dynamo';
import { startKmsEmulator } from './kms-emulator';

/**
 * dynalite runs in a process of its own: its LevelDB work and the HTTP it serves then use the other
 * core instead of competing with the handlers. It exits when we do (its stdin closes) or on SIGTERM,
 * closing LevelDB cleanly.
 */
const DYNALITE_PROCESS = `
  const [modulePath, options] = process.argv.slice(1);
  const server = require(modulePath)(JSON.parse(options));
  const stop = () => server.close(() => process.exit(0));
  server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop).resume();
`;

async function startDynalite(path: string | undefined): Promise<{ endpoint: string; close(): Promise<void> }> {
  const options = { ...(path && { path }), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 };
  const child = spawn(process.execPath, ['-e', DYNALITE_PROCESS, require.resolve('dynalite'), JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', (code) => reject(new Error(`dynalite exited with code ${code} before listening`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Local stand-ins for the AWS services the control plane uses, speaking AWS's own wire protocols. */
export interface LocalAws {
  readonly dynamodbEndpoint: string;
  readonly kmsEndpoint: string;
  close(): Promise<void>;
}

export const LOCAL_TABLE_NAME = 'plivo-connector';
export const LOCAL_KMS_KEY_ID = 'alias/plivo-connector-data';
/** The emulator's RSA key for webhook signatures, created under DATA_DIR/kms on first use. */
export const LOCAL_WEBHOOK_SIGNING_KEY_ID = 'alias/plivo-connector-webhooks';

/**
 * Starts dynalite (persisted under `dataDir/dynamodb`, or in memory when `dataDir` is undefined)
 * and the KMS emulator, both on loopback ports chosen by the OS.
 */
export async function startLocalAws(dataDir: string | undefined, kmsDir: string): Promise<LocalAws> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const dynamodb = await startDynalite(dataDir && join(dataDir, 'dynamodb'));
  const kms = await startKmsEmulator(kmsDir);
  return {
    dynamodbEndpoint: dynamodb.endpoint,
    kmsEndpoint: kms.endpoint,
    close: async () => {
      await kms.close();
      await dynamodb.close();
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
