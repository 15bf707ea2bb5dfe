import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { dynamoClient } from '../../core/aws';

/**
 * A DynamoDB that takes each request and never answers (a stuck connection, a half-dead load balancer): the
 * Answer URL's client must give up on it at its request timeout (3 s) and retry, not wait for the socket's 300 s.
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

  it('abandons a request at its 3 s timeout and sends it again', async () => {
    const dynamo = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
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
    expect(requests[1]).toBeGreaterThanOrEqual(3_000);
    expect(requests[1]).toBeLessThan(6_000);
    expect(await outcome).not.toBe('answered');
  }, 15_000);
});
