import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  UpdateTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { spawn } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSqsServer } from 'local-aws-sqs';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { TABLE_KEYS } from '../core/dynamo';
import { startKmsEmulator } from './kms-emulator';

/**
 * dynalite runs in a process of its own: its LevelDB work and the HTTP it serves then use the other
 * core instead of competing with the handlers. It exits when we do (its stdin closes) or on SIGTERM,
 * closing LevelDB cleanly; it is stopped last, after the media servers have recorded their calls' end.
 */
const DYNALITE_PROCESS = `
  const [modulePath, options, port] = process.argv.slice(1);
  const server = require(modulePath)(JSON.parse(options));
  const stop = () => server.close(() => process.exit(0));
  server.listen(Number(port), '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop).resume();
`;

/**
 * dynalite on `port` (0: any free one), persisted under `path` (in memory when undefined). Exported so a
 * fault test can start it again on the same port and data after stopping the stack's (a database outage).
 */
export async function startDynalite(path: string | undefined, port = 0): Promise<{ endpoint: string; close(): Promise<void> }> {
  const options = { ...(path && { path }), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 };
  const child = spawn(process.execPath, ['-e', DYNALITE_PROCESS, require.resolve('dynalite'), JSON.stringify(options), String(port)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    // Its own process group: a terminal's Ctrl-C must not stop the store before the media servers have ended their calls.
    detached: true,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', (code) => reject(new Error(`dynalite exited with code ${code} before listening`)));
  });
  return {
    endpoint: `http://127.0.0.1:${listening}`,
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
  readonly sqsEndpoint: string;
  readonly s3Endpoint: string;
  close(): Promise<void>;
}

export const LOCAL_TABLE_NAME = 'plivo-connector';
/** The S3 emulator's bucket for every local media region's recordings. */
export const LOCAL_RECORDINGS_BUCKET = 'plivo-connector-recordings';
export const LOCAL_KMS_KEY_ID = 'alias/plivo-connector-data';
/** The emulator's RSA key for webhook signatures, created under DATA_DIR/kms on first use. */
export const LOCAL_WEBHOOK_SIGNING_KEY_ID = 'alias/plivo-connector-webhooks';

/**
 * Starts dynalite (persisted under `dataDir/dynamodb`, or in memory when `dataDir` is undefined), the
 * KMS emulator, the SQS emulator (in memory, in this process: deliveries are recorded in DynamoDB,
 * and the sweeper queues again what a restart lost) and the S3 emulator (`startS3rver`), all on loopback ports
 * chosen by the OS.
 */
export async function startLocalAws(dataDir: string | undefined, kmsDir: string): Promise<LocalAws> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const dynamodb = await startDynalite(dataDir && join(dataDir, 'dynamodb'));
  const kms = await startKmsEmulator(kmsDir);
  const sqs: Server = await createSqsServer({ port: 0, hostname: '127.0.0.1', emulateQueueCreationLifecycle: false });
  const s3 = await startS3rver(dataDir && join(dataDir, 's3'));
  return {
    dynamodbEndpoint: dynamodb.endpoint,
    kmsEndpoint: kms.endpoint,
    sqsEndpoint: `http://127.0.0.1:${(sqs.address() as AddressInfo).port}`,
    s3Endpoint: s3.endpoint,
    close: async () => {
      await new Promise<void>((resolve) => {
        sqs.close(() => resolve());
        sqs.closeAllConnections();
      });
      await s3.close();
      await kms.close();
      await dynamodb.close();
    },
  };
}

/**
 * s3rver, in this process, on a loopback port: the recordings bucket (`LOCAL_RECORDINGS_BUCKET`) as files under
 * `directory`, or under a temporary directory removed on close. It speaks S3's REST protocol (path-style), so the
 * same @aws-sdk/client-s3 code (with its access key, core/aws.ts) and presigned URLs work against it. It refuses an
 * expired presigned URL but checks no SigV4 signature, so one that was tampered with still downloads here (README,
 * "Run it locally").
 */
export async function startS3rver(directory: string | undefined): Promise<{ endpoint: string; directory: string; close(): Promise<void> }> {
  const dir = directory ?? mkdtempSync(join(tmpdir(), 'plivo-connector-s3-'));
  mkdirSync(dir, { recursive: true });
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true, configureBuckets: [{ name: LOCAL_RECORDINGS_BUCKET }] });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    directory: dir,
    close: async () => {
      const closed = server.close();
      // Keep-alive connections (the SDK's, a download's) would otherwise hold close() open.
      server.httpServer?.closeAllConnections();
      await closed;
      if (directory === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const LOCAL_WEBHOOK_QUEUE = 'plivo-connector-webhooks';
/** Locally a POST (5 s at most) and its bookkeeping fit well inside this; in AWS it is 6x the worker's timeout. */
export const LOCAL_VISIBILITY_TIMEOUT_SECONDS = 10;

/** Creates the webhook queue and its dead-letter queue as the CDK stack defines them; returns their URLs. */
export async function ensureWebhookQueues(sqs: SQSClient): Promise<{ queueUrl: string; deadLetterQueueUrl: string }> {
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${LOCAL_WEBHOOK_QUEUE}-dlq`, Attributes: { MessageRetentionPeriod: String(14 * 86400) } }));
  const deadLetterQueueUrl = dlq.QueueUrl as string;
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ['QueueArn'] }));
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: LOCAL_WEBHOOK_QUEUE,
      Attributes: {
        VisibilityTimeout: String(LOCAL_VISIBILITY_TIMEOUT_SECONDS),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes?.QueueArn, maxReceiveCount: 10 }),
      },
    }),
  );
  return { queueUrl: queue.QueueUrl as string, deadLetterQueueUrl };
}

/** An index as lib/constructs/data-table.ts defines it: keys only, or the attributes `keys.projected` names. */
const index = (keys: { indexName: string; partitionKey: string; sortKey: string; projected?: readonly string[] }): GlobalSecondaryIndex => ({
  IndexName: keys.indexName,
  KeySchema: [
    { AttributeName: keys.partitionKey, KeyType: 'HASH' },
    { AttributeName: keys.sortKey, KeyType: 'RANGE' },
  ],
  Projection: keys.projected ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...keys.projected] } : { ProjectionType: 'KEYS_ONLY' },
});
const INDEXES = [index(TABLE_KEYS.byTime), index(TABLE_KEYS.due), index(TABLE_KEYS.outbox)];

/**
 * Creates the control table as the CDK stack defines it, if it is not there yet, and adds any index a
 * table from an older version lacks.
 */
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
          { AttributeName: TABLE_KEYS.due.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE_KEYS.due.sortKey, AttributeType: 'S' },
          { AttributeName: TABLE_KEYS.outbox.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE_KEYS.outbox.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: INDEXES,
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  for (let i = 0; i < 100; i++) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    const indexes = Table?.GlobalSecondaryIndexes ?? [];
    const missing = INDEXES.find((wanted) => !indexes.some((have) => have.IndexName === wanted.IndexName));
    if (Table?.TableStatus === 'ACTIVE' && missing) {
      await dynamo.send(
        new UpdateTableCommand({
          TableName: tableName,
          AttributeDefinitions: (missing.KeySchema ?? []).map((key) => ({ AttributeName: key.AttributeName, AttributeType: 'S' })),
          GlobalSecondaryIndexUpdates: [{ Create: missing }],
        }),
      );
    } else if (Table?.TableStatus === 'ACTIVE' && indexes.every((have) => have.IndexStatus === 'ACTIVE')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Table ${tableName} did not become ACTIVE`);
}
