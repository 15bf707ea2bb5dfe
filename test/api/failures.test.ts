import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../../core/auth';
import { dynamoClient, kmsClient } from '../../core/aws';
import { SecretBox } from '../../core/secret-box';
import { TenantStore } from '../../core/tenants';
import { loadControlPlaneConfig } from '../../core/config';
import { ensureControlTable, LOCAL_KMS_KEY_ID, LOCAL_TABLE_NAME, startLocalAws, type LocalAws } from '../../local/aws';
import { closedPort } from '../support/agents';
import { serveApi } from '../support/api-server';
import { startTestStack } from '../support/stack';

/** A port with nothing listening on it: an AWS dependency that is down. */
const deadEndpoint = async (): Promise<string> => `http://127.0.0.1:${await closedPort()}`;

/** The API handler behind the local gateway, on the given AWS endpoints. */
function serveApiOn(endpoints: { dynamodbEndpoint: string; kmsEndpoint: string }) {
  return serveApi(
    loadControlPlaneConfig({
      TABLE_NAME: LOCAL_TABLE_NAME,
      KMS_KEY_ID: LOCAL_KMS_KEY_ID,
      PUBLIC_URL: 'http://127.0.0.1',
      MEDIA_REGIONS: JSON.stringify({ us002: { ingestUrl: 'wss://media.example.com', claimsTable: LOCAL_TABLE_NAME, recordingsBucket: 'recordings' } }),
      DYNAMODB_ENDPOINT: endpoints.dynamodbEndpoint,
      KMS_ENDPOINT: endpoints.kmsEndpoint,
    }),
  );
}

describe('when a dependency is down', () => {
  let dir: string;
  let aws: LocalAws;
  let secret: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deps-'));
    aws = await startLocalAws(undefined, dir);
    const clients = { region: 'us-east-1', dynamodbEndpoint: aws.dynamodbEndpoint, kmsEndpoint: aws.kmsEndpoint };
    const dynamo = dynamoClient(clients);
    await ensureControlTable(dynamo, LOCAL_TABLE_NAME);
    secret = await new TenantStore(dynamo, LOCAL_TABLE_NAME, new SecretBox(kmsClient(clients), LOCAL_KMS_KEY_ID)).ensureSecret('acme');
    dynamo.destroy();
  });
  afterAll(async () => {
    await aws.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['database', () => deadEndpoint().then((dynamodbEndpoint) => ({ dynamodbEndpoint, kmsEndpoint: aws.kmsEndpoint }))],
    ['key service', () => deadEndpoint().then((kmsEndpoint) => ({ dynamodbEndpoint: aws.dynamodbEndpoint, kmsEndpoint }))],
  ])('answers 503 naming the %s, with Retry-After, and logs it', async (dependency, endpoints) => {
    const api = await serveApiOn(await endpoints());
    try {
      // The tenant lookup needs both: its item from the database, its secret decrypted by KMS.
      const token = await mintToken(secret, { apikey: 'acme', ttlSeconds: 60 });
      const res = await fetch(`${api.url}/v2/connectors`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await res.json()).toEqual({ message: `The ${dependency} is unavailable; retry shortly`, code: 'unavailable' });
      expect(api.lines.some((l) => l.includes('"status":503'))).toBe(true);
    } finally {
      await api.close();
    }
  });
});

it('answers a bare 500, revealing nothing, when stored data is corrupt', async () => {
  const t = await startTestStack();
  try {
    const token = await t.token('acme');
    const dynamo = dynamoClient({ region: 'us-east-1', dynamodbEndpoint: t.stack.aws.dynamodbEndpoint });
    await dynamo.send(
      new PutItemCommand({
        TableName: LOCAL_TABLE_NAME,
        Item: { pk: { S: 'T#acme' }, sk: { S: 'CN#cn_zzzzzzzzzzzzzzzz' }, id: { S: 'cn_zzzzzzzzzzzzzzzz' }, provider: { S: 'carrier-pigeon' } },
      }),
    );
    dynamo.destroy();
    const res = await t.api('GET', '/v2/connectors/cn_zzzzzzzzzzzzzzzz', { token });
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('{"message":"Internal server error","code":"internal_error"}');
    expect(t.logLines.some((l) => l.includes('unhandled error') && l.includes('carrier-pigeon'))).toBe(true);
    // The process carries on.
    expect((await t.api('GET', '/v2/connectors?limit=1', { token })).status).toBe(500);
    expect((await t.api('POST', '/v2/connectors', { token, body: { provider: 'plivo' } })).status).toBe(201);
  } finally {
    await t.close();
  }
});

it('throttles like the deployed API stage: 429 beyond the burst, served again after refill', async () => {
  const t = await startTestStack({ API_RATE_LIMIT: '2', API_BURST_LIMIT: '3' });
  try {
    const token = await t.token('acme');
    const statuses = await Promise.all(Array.from({ length: 6 }, () => t.api('GET', '/v2/connectors', { token }).then(async (r) => ({ status: r.status, body: await r.text() }))));
    expect(statuses.filter((s) => s.status === 200).length).toBeLessThanOrEqual(4);
    const throttled = statuses.filter((s) => s.status === 429);
    expect(throttled.length).toBeGreaterThanOrEqual(2);
    for (const s of throttled) expect(JSON.parse(s.body)).toEqual({ message: 'Too Many Requests' });
    await new Promise((r) => setTimeout(r, 1200));
    expect((await t.api('GET', '/v2/connectors', { token })).status).toBe(200);
  } finally {
    await t.close();
  }
});

it('answers 400 to a request target no URL parser accepts, and goes on serving', async () => {
  const t = await startTestStack();
  try {
    const { hostname, port } = new URL(t.stack.apiUrl);
    for (const target of ['//[', 'http://[/x', 'http://h:99999/']) {
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), hostname, () => socket.end(`GET ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`));
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(reply).toMatch(/^HTTP\/1\.1 400 /);
      expect(reply).toContain('{"message":"Bad Request"}');
    }
    expect((await t.api('GET', '/v2/connectors', { token: await t.token('acme') })).status).toBe(200);
  } finally {
    await t.close();
  }
});
