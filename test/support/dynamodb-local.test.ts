import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { endianness, networkInterfaces } from 'node:os';
import { dynamoDbLocalProblem, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';

if (dynamoDbLocalProblem() && process.env.CI) throw new Error(`CI must test DynamoDB Local: ${dynamoDbLocalProblem()}`);
if (dynamoDbLocalProblem()) process.stderr.write(`test/support/dynamodb-local.test.ts: skipped: ${dynamoDbLocalProblem()}\n`);

/** Listening TCP sockets on a port, from /proc/net/tcp{,6}: "127.0.0.1", "0.0.0.0", "::", "::ffff:127.0.0.1", ... */
function procListeners(port: number): string[] {
  const found: string[] = [];
  for (const [file, v6] of [
    ['/proc/net/tcp', false],
    ['/proc/net/tcp6', true],
  ] as const) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || !local) continue; // 0A = LISTEN
      const [hex = '', portHex = ''] = local.split(':');
      if (parseInt(portHex, 16) !== port) continue;
      // The kernel prints each 32-bit word of the address in host byte order.
      const bytes = Buffer.from(hex, 'hex');
      if (endianness() === 'LE') for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
      if (!v6) found.push([...bytes].join('.'));
      else if (bytes.subarray(0, 12).equals(Buffer.from('00000000000000000000ffff', 'hex'))) found.push(`::ffff:${[...bytes.subarray(12)].join('.')}`);
      else found.push(bytes.every((b) => b === 0) ? '::' : bytes.toString('hex'));
    }
  }
  return found;
}

/** Local addresses `ss -ltn` shows for a port, or null when ss is not installed. */
function ssListeners(port: number): string[] | null {
  const result = spawnSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return null;
  return result.stdout
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => line.trim().split(/\s+/)[3] ?? '');
}

function connectError(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(null);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

(dynamoDbLocalProblem() ? describe.skip : describe)('startDynamoDbLocal', () => {
  let ddb: DynamoDbLocal;
  let client: DynamoDBClient;
  let port: number;

  beforeAll(async () => {
    ddb = await startDynamoDbLocal();
    port = Number(new URL(ddb.endpoint).port);
    client = new DynamoDBClient({
      endpoint: ddb.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  }, 90_000);
  afterAll(async () => {
    client?.destroy();
    await ddb?.stop();
  }, 60_000);

  it('serves on an http://127.0.0.1 endpoint', () => {
    expect(ddb.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(port).toBeGreaterThan(0);
  });

  it('listens on 127.0.0.1 only', async () => {
    if (process.platform === 'linux') expect(procListeners(port)).toEqual(['127.0.0.1']);
    const ss = ssListeners(port);
    if (ss) expect(ss).toEqual([`127.0.0.1:${port}`]);
    // and a non-loopback address of this host really is refused
    const external = Object.values(networkInterfaces())
      .flat()
      .find((info) => info && info.family === 'IPv4' && !info.internal);
    if (external) expect(await connectError(external.address, port)).toBe('ECONNREFUSED');
    expect(await connectError('127.0.0.1', port)).toBeNull();
  });

  it('creates a table and puts and gets an item under a ConditionExpression', async () => {
    await client.send(
      new CreateTableCommand({
        TableName: 'things',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const put = (value: string) =>
      new PutItemCommand({
        TableName: 'things',
        Item: { pk: { S: 'a' }, value: { S: value } },
        ConditionExpression: 'attribute_not_exists(pk)',
      });
    await client.send(put('first'));
    await expect(client.send(put('second'))).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    const got = await client.send(new GetItemCommand({ TableName: 'things', Key: { pk: { S: 'a' } }, ConsistentRead: true }));
    expect(got.Item).toEqual({ pk: { S: 'a' }, value: { S: 'first' } });
  });

  it('stops, closing the port, and stopping again is harmless', async () => {
    await ddb.stop();
    expect(await connectError('127.0.0.1', port)).toBe('ECONNREFUSED');
    if (process.platform === 'linux') expect(procListeners(port)).toEqual([]);
    await ddb.stop();
  }, 60_000);
});
