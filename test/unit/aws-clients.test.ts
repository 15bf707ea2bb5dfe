import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createServer as createHttpServer, request, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { dynamoClient } from '../../core/aws';
import { ensureControlTable, startDynalite } from '../../local/aws';

const endpointOf = (server: Server | HttpServer) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/**
 * A DynamoDB that takes each request and never answers (a stuck connection, a kept-alive socket that died silently):
 * the Answer URL's client must give up on it at its request timeout (3 s) and retry, not wait for the socket's 300 s.
 */
describe('AWS clients against a peer that never answers', () => {
  let server: Server;
  const sockets = new Set<Socket>();
  /** When each request arrived (ms since the test's send). */
  const requests: number[] = [];
  let sentAt = 0;

  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.once('data', () => requests.push(Date.now() - sentAt));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('abandons a request at its timeout and sends it again', async () => {
    const dynamo = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: endpointOf(server) }, 1_000);
    sentAt = Date.now();
    const outcome = dynamo.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'a' } } })).then(
      () => 'answered',
      (err: Error) => err.name,
    );
    for (let waited = 0; requests.length < 2 && waited < 100; waited++) await new Promise((resolve) => setTimeout(resolve, 100));
    dynamo.destroy();
    for (const socket of sockets) socket.destroy();
    expect(requests.length).toBeGreaterThanOrEqual(2);
    // The retry follows the first attempt's timeout (plus the SDK's backoff), long before the socket's own.
    expect(requests[1]).toBeGreaterThanOrEqual(1_000);
    expect(requests[1]).toBeLessThan(3_000);
    expect(await outcome).not.toBe('answered');
  }, 15_000);
});

/**
 * dynalite behind a proxy that passes every request on but drops dynalite's answer to the first `PutItem` it sees
 * (`swallowNext`): the write is done, the client never hears so, times out and retries. A conditional create's retry
 * then meets its own item.
 */
describe('a conditional create whose answer was lost', () => {
  const TABLE = 'lost-answers';
  let dynalite: { endpoint: string; close(): Promise<void> };
  let proxy: HttpServer;
  let swallowNext = false;
  let swallowed = 0;
  let dynamo: DynamoDBClient;

  beforeAll(async () => {
    dynalite = await startDynalite(undefined);
    const target = new URL(dynalite.endpoint);
    proxy = createHttpServer((req, res) => {
      const swallow = swallowNext && req.headers['x-amz-target'] === 'DynamoDB_20120810.PutItem';
      if (swallow) swallowNext = false;
      const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        if (swallow) {
          swallowed++;
          answer.resume();
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    // AWS's 3 s timeout (an emulator's own is 30 s), shortened: the test waits out one attempt.
    dynamo = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: endpointOf(proxy) }, 1_000);
    await ensureControlTable(dynamo, TABLE);
  }, 60_000);
  afterAll(async () => {
    dynamo.destroy();
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
    await dynalite.close();
  });

  const create = (sk: string, by: string) =>
    dynamo.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'T#acme' }, sk: { S: sk }, by: { S: by }, n: { N: '7' } }, ConditionExpression: 'attribute_not_exists(pk)' }));

  it('succeeds when the item its retry meets is the one it wrote', async () => {
    swallowNext = true;
    const before = swallowed;
    const { $metadata } = await create('SESSION#1', 'this request');
    expect(swallowed).toBe(before + 1);
    expect($metadata.attempts).toBe(2);
    const { Item } = await dynamo.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'T#acme' }, sk: { S: 'SESSION#1' } }, ConsistentRead: true }));
    expect(Item?.by?.S).toBe('this request');
  }, 20_000);

  it("still fails when another writer's item is there, retried or not", async () => {
    await create('SESSION#2', 'another writer');
    await expect(create('SESSION#2', 'this request')).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    swallowNext = true;
    const before = swallowed;
    await expect(create('SESSION#2', 'this request')).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    expect(swallowed).toBe(before + 1);
  }, 20_000);
});
