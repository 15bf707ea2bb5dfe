import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintToken } from '../../core/auth';
import { dynamoClient, kmsClient, sqsClient } from '../../core/aws';
import { SecretBox } from '../../core/secret-box';
import { TenantStore } from '../../core/tenants';
import { answerDependencies, createAnswerHandler } from '../../lambdas/answer/app';
import { apiDependencies, createApiHandler } from '../../lambdas/api/app';
import { ORIGIN_SECRET_HEADER } from '../../lambdas/edge';
import { HTTP_FUNCTIONS } from '../../lambdas/routes';
import { ensureControlTable, ensureWebhookQueues, LOCAL_KMS_KEY_ID, LOCAL_TABLE_NAME, startLocalAws, type LocalAws } from '../../local/aws';
import { localControlPlaneConfig, localControlPlaneEnv } from '../../local/config';
import { createGatewayListener } from '../../local/http-gateway';
import { answerFields, newCall } from '../support/plivo';
import { memoryLog } from '../support/stack';

/**
 * `ORIGIN_SECRET`: behind the edge, both HTTP functions refuse any request without CloudFront's secret header before
 * they do anything else (no token check, no key lookup), so calling execute-api directly gains nothing. The real
 * handlers, built from the environment the stack gives them, behind the local gateway on dynalite and local KMS.
 */
const ORIGIN_SECRET = 'kQ7vXo2lT9bRzW4nE8cY1uJ5mA3sD6fG0hL2pV9xN4qB7tK1';
let dir: string;
let aws: LocalAws;
let server: Server;
let url: string;
let token: string;
const { lines, logger } = memoryLog();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'origin-secret-'));
  aws = await startLocalAws(undefined, dir);
  const sqs = sqsClient({ region: 'us-east-1', sqsEndpoint: aws.sqsEndpoint });
  // The environment the local stack gives the functions, plus the secret the edge's deploy gives them.
  const env = localControlPlaneEnv({ TENANT_RATE_LIMIT: '0' }, aws, await ensureWebhookQueues(sqs), 'https://d111111abcdef8.cloudfront.net');
  sqs.destroy();
  const config = localControlPlaneConfig({ ...env, ORIGIN_SECRET });
  const dynamo = dynamoClient(config.aws);
  await ensureControlTable(dynamo, LOCAL_TABLE_NAME);
  token = await mintToken(await new TenantStore(dynamo, LOCAL_TABLE_NAME, new SecretBox(kmsClient(config.aws), LOCAL_KMS_KEY_ID)).ensureSecret('acme'), { apikey: 'acme', ttlSeconds: 600 });
  dynamo.destroy();
  const listener = createGatewayListener(
    [
      { routes: HTTP_FUNCTIONS.api.routes, throttle: HTTP_FUNCTIONS.api.throttle, handler: createApiHandler(apiDependencies(config, logger)) },
      { routes: HTTP_FUNCTIONS.answer.routes, throttle: HTTP_FUNCTIONS.answer.throttle, handler: createAnswerHandler(answerDependencies(config, logger)) },
    ],
    logger,
  );
  server = createServer((req, res) => void listener(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await aws?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** No header, an empty one, a wrong one of the same length, the secret's prefix, the secret with a byte more. */
const WRONG: readonly (string | undefined)[] = [undefined, '', ORIGIN_SECRET.replace(/.$/, 'x'), ORIGIN_SECRET.slice(0, 20), `${ORIGIN_SECRET}x`];
const withSecret = (value: string | undefined): Record<string, string> => (value === undefined ? {} : { [ORIGIN_SECRET_HEADER]: value });

it('the REST API refuses a request without the secret with 403 {message, code}, before it checks the token', async () => {
  for (const value of WRONG) {
    const res = await fetch(`${url}/v2/connectors`, { headers: { authorization: `Bearer ${token}`, ...withSecret(value) } });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ message: 'Call the API at its public URL', code: 'origin_refused' });
    // Not even the token is looked at: without one, the same 403 (not 401); a public route (no token) the same.
    expect((await fetch(`${url}/v2/connectors`, { headers: withSecret(value) })).status).toBe(403);
    expect((await fetch(`${url}/v2/public/rsa-public-key`, { headers: withSecret(value) })).status).toBe(403);
  }
  const through = await fetch(`${url}/v2/connectors`, { headers: { authorization: `Bearer ${token}`, ...withSecret(ORIGIN_SECRET) } });
  expect(through.status).toBe(200);
  expect((await fetch(`${url}/v2/connectors`, { headers: withSecret(ORIGIN_SECRET) })).status).toBe(401);
  expect((await fetch(`${url}/v2/public/rsa-public-key`, { headers: withSecret(ORIGIN_SECRET) })).status).toBe(200);
  expect(lines.filter((line) => line.includes('request refused: it did not come through the edge'))).toHaveLength(WRONG.length * 3);
  // The secret is never logged, nor any header value that was offered for it.
  expect(lines.some((line) => line.includes(ORIGIN_SECRET.slice(0, 20)))).toBe(false);
});

it('the Answer URL refuses a request without the secret with 403 Hangup XML, before it looks up the webhook key', async () => {
  const hook = `${url}/v2/hooks/plivo/whk_${'x'.repeat(40)}`;
  const post = (value: string | undefined) =>
    fetch(hook, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...withSecret(value) },
      body: new URLSearchParams(answerFields(newCall())).toString(),
    });
  for (const value of WRONG) {
    const res = await post(value);
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(await res.text()).toContain('<Hangup reason="rejected"/>');
  }
  // Through the edge, the same unknown key reaches the lookup: 404.
  expect((await post(ORIGIN_SECRET)).status).toBe(404);
  expect(lines.filter((line) => line.includes('answer refused: request did not come through the edge'))).toHaveLength(WRONG.length);
});
