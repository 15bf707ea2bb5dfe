import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { join } from 'node:path';
import { mintToken } from '../core/auth';
import { dynamoClient, kmsClient, sqsClient } from '../core/aws';
import type { Env } from '../core/env';
import { NotFoundError } from '../core/errors';
import { PlivoAuthTokens } from '../core/connectors/plivo-tokens';
import { CONNECTOR_TYPE, connectorFromItem } from '../core/connectors/store';
import { str } from '../core/dynamo';
import { errorBody } from '../lambdas/http/response';
import { createLogger, type Logger } from '../core/log';
import { SecretBox } from '../core/secret-box';
import { TenantStore } from '../core/tenants';
import { answerDependencies, createAnswerHandler } from '../lambdas/answer/app';
import { apiDependencies, createApiHandler } from '../lambdas/api/app';
import { HTTP_FUNCTIONS, type HttpFunctionName } from '../lambdas/routes';
import { ensureControlTable, ensureWebhookQueues, startLocalAws, type LocalAws } from './aws';
import { lockDataDir } from './data-lock';
import { loadLocalConfig, localControlPlaneConfig, localControlPlaneEnv, localMediaEnv } from './config';
import { refuse } from '../ingest-container/src/transport/refuse';
import { MediaFleet, type LocalMediaServer } from './media-fleet';
import { createGatewayListener, GATEWAY_SERVER_OPTIONS } from './http-gateway';
import { createDeliveryHandler, deliveryDependencies } from '../lambdas/webhooks/app';
import { createSweeper } from '../lambdas/sweeper/app';
import { LONG_POLL_MS, pollQueue } from './queue-poller';
import { PlivoEmulator } from './plivo/emulator';

/** What `npm start` prints and writes to `DATA_DIR/local-stack.json`. */
export interface LocalStackInfo {
  readonly apiUrl: string;
  readonly mediaUrl: string;
  readonly consoleUrl: string;
  readonly token: string;
  readonly connector: { readonly id: string; readonly webhookUrl: string };
  /** Endpoints of the local AWS stand-ins, for tools such as `npm run token` while the stack runs. */
  readonly aws: { readonly dynamodbEndpoint: string; readonly kmsEndpoint: string; readonly sqsEndpoint: string; readonly s3Endpoint: string };
  /** The media servers behind `mediaUrl`, each its own process (`MEDIA_SERVERS`). */
  readonly mediaServers: readonly LocalMediaServer[];
  /** Plivo's Voice API as the API and the media servers call it: the emulator's, or `PLIVO_API_URL` when set. */
  readonly plivoApiUrl: string;
  /** Where `npm run call -- --answer` registers a callee with the emulator; null when `PLIVO_API_URL` points elsewhere. */
  readonly calleesUrl: string | null;
}

export interface LocalStack extends LocalStackInfo {
  readonly dataDir: string;
  /** The Plivo Voice API emulator behind `plivoApiUrl`; null when `PLIVO_API_URL` points elsewhere. */
  readonly plivoEmulator: PlivoEmulator | null;
  close(): Promise<void>;
}

export const DEMO_TENANT = 'demo';
export const DEMO_ROOM = 'demo-room';
const DEMO_TOKEN_TTL_SECONDS = 24 * 3600;
export const STATE_FILE = 'local-stack.json';

function previousConnectorId(dataDir: string): string | undefined {
  const file = join(dataDir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalStackInfo>).connector?.id;
  } catch {
    return undefined;
  }
}

/**
 * The whole product on one machine: AWS stand-ins, the API's Lambda handlers behind a local
 * API Gateway, a demo tenant with a fresh token and a demo connector (created once, kept across restarts).
 */
export async function startLocalStack(env: Env, log: Logger = createLogger('info', { service: 'local' })): Promise<LocalStack> {
  const local = loadLocalConfig(env);
  mkdirSync(local.dataDir, { recursive: true });
  const unlock = lockDataDir(local.dataDir);
  const server = createServer(GATEWAY_SERVER_OPTIONS);
  // The port answers from the moment it is bound: 503 with Retry-After until everything serves (and once stopping),
  // never a request left waiting for a listener that is not attached yet.
  let state: 'starting' | 'serving' | 'stopping' = 'starting';
  let serving: { request: RequestListener; upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void } | undefined;
  const failed = (res: ServerResponse, err: unknown) => {
    // A fault outside the handlers (writing the reply): this request fails, never the process.
    log.error('gateway failed', { err });
    if (res.headersSent) res.destroy();
    else res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"Internal Server Error"}');
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    try {
      if (/^\/health(\?|$)/.test(req.url ?? '')) {
        const up = state === 'serving';
        res.writeHead(up ? 200 : 503, { 'content-type': 'application/json', ...(!up && { 'retry-after': '1' }) }).end(JSON.stringify({ status: state }));
      } else if (state !== 'serving' || !serving) {
        req.resume();
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end(JSON.stringify(errorBody('unavailable', `The local stack is ${state}; retry shortly`)));
      } else serving.request(req, res);
    } catch (err) {
      failed(res, err);
    }
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      if (state !== 'serving' || !serving) refuse(socket, { status: 503, code: 'unavailable', message: `The local stack is ${state}; retry shortly` });
      else serving.upgrade(req, socket, head);
    } catch (err) {
      log.error('media hand-off failed', { err });
      socket.destroy();
    }
  });
  let aws: LocalAws | undefined;
  let sqs: SQSClient | undefined;
  let media: MediaFleet | undefined;
  let plivo: PlivoEmulator | undefined;
  let worker: { stop(): Promise<void> } | undefined;
  let sweeps: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;
  const stopServing = () =>
    new Promise<void>((resolve) => {
      state = 'stopping';
      server.close(() => resolve());
      server.closeAllConnections();
    });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(local.port, local.host, resolve);
    });
    aws = await startLocalAws(local.dataDir, join(local.dataDir, 'kms'));
    sqs = sqsClient({ region: 'us-east-1', sqsEndpoint: aws.sqsEndpoint }, LONG_POLL_MS + 5000);
    const port = (server.address() as AddressInfo).port;
    const base = `http://${local.host === '0.0.0.0' ? '127.0.0.1' : local.host}:${port}`;
    // Plivo's Voice API on loopback, unless the environment names one (real Plivo, or another emulator).
    // Its accounts are the connectors' Plivo credentials, looked up once the table exists (no request comes before).
    let authTokenOf: (authId: string) => Promise<string | undefined> = () => Promise.resolve(undefined);
    if (!env.PLIVO_API_URL?.trim()) {
      plivo = await PlivoEmulator.start({ log: log.child({ service: 'plivo-emulator' }), authTokenOf: (authId) => authTokenOf(authId) });
    }
    const controlEnv = localControlPlaneEnv(env, aws, await ensureWebhookQueues(sqs), base, plivo?.url);
    const config = localControlPlaneConfig(controlEnv);
    const dynamo = dynamoClient(config.aws);
    await ensureControlTable(dynamo, config.tableName);
    // The delivery Lambda behind its SQS event source, and the scheduled sweeper, as in AWS (there every minute; here every
    // SWEEP_INTERVAL_SECONDS, 5 s by default, so missed calls and lost messages show seconds after they fall due).
    worker = pollQueue(sqs, config.webhooks.queueUrl as string, createDeliveryHandler(deliveryDependencies(config, log.child({ service: 'webhooks' }))), log);
    const sweeper = createSweeper(config, log.child({ service: 'sweeper' }));
    sweeps = setInterval(() => {
      sweeping ??= Promise.resolve()
        .then(() => sweeper.sweep())
        .then(() => undefined, (err: unknown) => log.error('sweep failed', { service: 'sweeper', error: err }))
        .finally(() => (sweeping = undefined));
    }, local.sweepIntervalSeconds * 1000);

    const api = apiDependencies(config, log.child({ service: 'api' }));
    const handlers = {
      api: createApiHandler(api),
      answer: createAnswerHandler(answerDependencies(config, log.child({ service: 'answer' }))),
    };
    const functions = (Object.keys(HTTP_FUNCTIONS) as HttpFunctionName[]).map((name) => ({
      routes: HTTP_FUNCTIONS[name].routes,
      throttle: local.throttles[name],
      handler: handlers[name],
    }));
    const gateway = createGatewayListener(functions, log, local.edge);
    // Every local region's ingest URL points here, to the media servers behind this port; they share one table.
    const fleet = (media = await MediaFleet.start(local.mediaServers, localMediaEnv(env, controlEnv, config.homeMediaRegion), log));
    serving = {
      request: (req, res) => {
        if ((req.url ?? '').startsWith('/console')) fleet.proxyRequest(req, res);
        else gateway(req, res).catch((err: unknown) => failed(res, err));
      },
      upgrade: (req, socket, head) => fleet.handOffUpgrade(req, socket, head),
    };

    const box = new SecretBox(kmsClient(config.aws), config.kmsKeyId);
    authTokenOf = connectorAccounts(dynamo, config.tableName, new PlivoAuthTokens(box));
    const tenants = new TenantStore(dynamo, config.tableName, box);
    const secret = await tenants.ensureSecret(DEMO_TENANT);
    const token = await mintToken(secret, { apikey: DEMO_TENANT, ttlSeconds: DEMO_TOKEN_TTL_SECONDS });
    const connector = await demoConnector(api.connectors, previousConnectorId(local.dataDir));

    const info: LocalStackInfo = {
      apiUrl: base,
      mediaUrl: base.replace(/^http/, 'ws'),
      // The console link carries the management token in the fragment: a browser never sends it to a server, so it
      // reaches no log; the console calls the API with it and mints a participant token for each room it joins.
      consoleUrl: `${base}/console?room=${DEMO_ROOM}#token=${token}`,
      token,
      connector: { id: connector.id, webhookUrl: connector.webhookUrl },
      aws: { dynamodbEndpoint: aws.dynamodbEndpoint, kmsEndpoint: aws.kmsEndpoint, sqsEndpoint: aws.sqsEndpoint, s3Endpoint: aws.s3Endpoint },
      mediaServers: fleet.servers,
      plivoApiUrl: config.plivoApiUrl,
      calleesUrl: plivo?.calleesUrl ?? null,
    };
    writeFileSync(join(local.dataDir, STATE_FILE), JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
    state = 'serving';

    const localAws = aws;
    const plivoEmulator = plivo ?? null;
    const sqsClientInUse = sqs;
    let closing: Promise<void> | undefined;
    return {
      ...info,
      dataDir: local.dataDir,
      plivoEmulator,
      close: () =>
        (closing ??= (async () => {
          // Calls end first, while the store still runs: the media servers record them as ended by the shutdown
          // (with their true duration) and queue their hangup events before the worker and the store stop.
          await fleet.close();
          await plivoEmulator?.close();
          await stopServing();
          clearInterval(sweeps);
          await sweeping;
          await worker?.stop();
          dynamo.destroy();
          sqsClientInUse.destroy();
          await localAws.close();
          unlock();
        })()),
    };
  } catch (err) {
    await media?.close();
    await plivo?.close();
    await stopServing();
    clearInterval(sweeps);
    await worker?.stop();
    sqs?.destroy();
    await aws?.close();
    unlock();
    throw err;
  }
}

/**
 * The Plivo emulator's accounts: the auth token of the connector holding `authId` as its `plivoAuthId`, found by a
 * Scan (fine for the local table, which the product never scans). Two connectors holding one auth id: the first wins.
 */
function connectorAccounts(dynamo: DynamoDBClient, tableName: string, tokens: PlivoAuthTokens) {
  return async (authId: string): Promise<string | undefined> => {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await dynamo.send(
        new ScanCommand({
          TableName: tableName,
          FilterExpression: '#type = :type AND plivoAuthId = :authId AND attribute_exists(plivoAuthToken)',
          ExpressionAttributeNames: { '#type': 'type' },
          ExpressionAttributeValues: { ':type': str(CONNECTOR_TYPE), ':authId': str(authId) },
          ExclusiveStartKey: start,
        }),
      );
      const item = page.Items?.[0];
      if (item) return (await tokens.of(connectorFromItem(item))) ?? undefined;
      start = page.LastEvaluatedKey;
    } while (start);
    return undefined;
  };
}

async function demoConnector(connectors: ReturnType<typeof apiDependencies>['connectors'], id: string | undefined) {
  if (id) {
    try {
      return await connectors.get(DEMO_TENANT, id);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
  return connectors.create(DEMO_TENANT, { provider: 'plivo', name: 'Demo connector', defaultRoomId: DEMO_ROOM });
}
