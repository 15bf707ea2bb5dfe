import { createSecretKey, generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { Authenticator, MAX_TOKEN_LIFETIME_SECONDS, mintToken, SECRET_CACHE_SECONDS } from '../../core/auth';
import { dynamoClient, kmsClient } from '../../core/aws';
import { SecretBox } from '../../core/secret-box';
import { TenantStore } from '../../core/tenants';
import { LOCAL_KMS_KEY_ID, LOCAL_TABLE_NAME } from '../../local/aws';
import { startTestStack, type TestStack } from '../support/stack';

let t: TestStack;
let secret: string;

beforeAll(async () => {
  t = await startTestStack();
  secret = await t.secret('acme');
});
afterAll(() => t.close());

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({
  apikey: 'acme',
  permissions: ['allow_join', 'allow_mod'],
  iat: now(),
  exp: now() + 600,
  ...extra,
});

async function sign(payload: Record<string, unknown>, key: string | Uint8Array = secret, alg = 'HS256'): Promise<string> {
  const material = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(createSecretKey(material));
}

async function status(authorization: string | undefined): Promise<{ status: number; message: string; www: string | null }> {
  const res = await fetch(`${t.stack.apiUrl}/v2/connectors`, { headers: authorization === undefined ? {} : { authorization } });
  const json = (await res.json()) as { message?: string };
  return { status: res.status, message: json.message ?? '', www: res.headers.get('www-authenticate') };
}

describe('authentication', () => {
  it('accepts "Bearer <jwt>", "bearer <jwt>" and the bare token', async () => {
    const token = await sign(claims());
    for (const header of [`Bearer ${token}`, `bearer ${token}`, token]) {
      expect((await status(header)).status).toBe(200);
    }
  });

  it.each<[string, () => Promise<string | undefined>, RegExp]>([
    ['a missing header', () => Promise.resolve(undefined), /Missing Authorization header/],
    ['an empty header', () => Promise.resolve(''), /Missing Authorization header/],
    ['garbage', () => Promise.resolve('Bearer not.a.jwt'), /Invalid token/],
    ['an expired token', () => sign(claims({ iat: now() - 7200, exp: now() - 3600 })), /Token expired|Invalid token/],
    ['a token signed with another secret', () => sign(claims(), 'another-secret-entirely-another-secret'), /Invalid token/],
    ['another tenant\'s name in a token signed with acme\'s secret', () => sign(claims({ apikey: 'globex' })), /Invalid token/],
    ['an unknown tenant', () => sign(claims({ apikey: 'nobody' })), /Invalid token/],
    ['a token without apikey', () => sign(claims({ apikey: undefined })), /Invalid token/],
    ['a token without exp', () => sign(claims({ exp: undefined })), /Invalid token/],
    ['a token without iat', () => sign(claims({ iat: undefined })), /Invalid token/],
    ['a token not yet valid', () => sign(claims({ nbf: now() + 3600 })), /Invalid token/],
    ['a token issued in the future', () => sign(claims({ iat: now() + 60 })), /Invalid token/],
    ['a token living longer than 24 h', () => sign(claims({ exp: now() + MAX_TOKEN_LIFETIME_SECONDS + 60 })), /Invalid token/],
    ['a token issued over 24 h ago', () => sign(claims({ iat: now() - MAX_TOKEN_LIFETIME_SECONDS - 60, exp: now() + 60 })), /Invalid token|Token expired/],
    ['alg none', () => Promise.resolve(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`), /Invalid token/],
    ['alg HS512 with the right secret', () => sign(claims(), secret.padEnd(64, 'x'), 'HS512'), /Invalid token/],
    [
      'alg RS256',
      () => {
        const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        return new SignJWT(claims()).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
      },
      /Invalid token/,
    ],
    [
      'a tampered payload',
      async () => {
        const [h, , s] = (await sign(claims({ permissions: ['allow_join'] }))).split('.');
        return `${h}.${b64(claims())}.${s}`;
      },
      /Invalid token/,
    ],
  ])('refuses %s with 401', async (_what, token, message) => {
    const value = await token();
    const res = await status(value);
    expect(res.status).toBe(401);
    expect(res.message).toMatch(message);
    expect(res.www).toBe('Bearer');
  });

  it('names an expired token as expired', async () => {
    const res = await status(await sign(claims({ iat: now() - 7200, exp: now() - 3600 })));
    expect(res).toMatchObject({ status: 401, message: 'Token expired' });
  });

  it('takes a token of exactly the maximum lifetime, as the tools mint it', async () => {
    expect((await status(await sign(claims({ exp: now() + MAX_TOKEN_LIFETIME_SECONDS })))).status).toBe(200);
    expect((await status(await mintToken(secret, { apikey: 'acme', ttlSeconds: MAX_TOKEN_LIFETIME_SECONDS }))).status).toBe(200);
    await expect(mintToken(secret, { apikey: 'acme', ttlSeconds: MAX_TOKEN_LIFETIME_SECONDS + 1 })).rejects.toThrow(/1-86400 seconds/);
  });

  it(`stops taking a revoked tenant's tokens within ${SECRET_CACHE_SECONDS} s`, async () => {
    const aws = { region: 'us-east-1', dynamodbEndpoint: t.stack.aws.dynamodbEndpoint, kmsEndpoint: t.stack.aws.kmsEndpoint };
    const dynamo = dynamoClient(aws);
    const tenants = new TenantStore(dynamo, LOCAL_TABLE_NAME, new SecretBox(kmsClient(aws), LOCAL_KMS_KEY_ID));
    let clock = Date.now();
    const auth = new Authenticator(tenants, () => clock);
    try {
      const token = await mintToken(await tenants.ensureSecret('revoked'), { apikey: 'revoked', ttlSeconds: 600 });
      await expect(auth.authenticate(token)).resolves.toMatchObject({ tenant: 'revoked' });
      // Revocation as docs/operations.md tells it: delete the tenant's item.
      await dynamo.send(new DeleteItemCommand({ TableName: LOCAL_TABLE_NAME, Key: { pk: { S: 'TENANT#revoked' }, sk: { S: 'TENANT' } } }));
      clock += SECRET_CACHE_SECONDS * 1000 + 1;
      await expect(auth.authenticate(token)).rejects.toThrow('Invalid token');
    } finally {
      dynamo.destroy();
    }
  });

  it('gives an unknown tenant the same answer as a bad signature', async () => {
    const unknown = await status(await sign(claims({ apikey: 'nobody' })));
    const forged = await status(await sign(claims(), 'wrong-secret-wrong-secret-wrong'));
    expect(unknown).toEqual(forged);
  });
});

describe('authorisation', () => {
  it.each([
    ['only allow_join', ['allow_join']],
    ['no permissions', []],
    ['an unknown permission', ['allow_everything']],
  ])('refuses a token with %s with 403', async (_what, permissions) => {
    const res = await status(await sign(claims({ permissions })));
    expect(res.status).toBe(403);
    expect(res.message).toBe('This token lacks the "allow_mod" permission');
  });

  it('refuses every management endpoint without allow_mod', async () => {
    const token = await sign(claims({ permissions: ['allow_join'] }));
    for (const [method, path] of [
      ['POST', '/v2/connectors'],
      ['GET', '/v2/connectors'],
      ['GET', '/v2/connectors/cn_0000000000000000'],
      ['PATCH', '/v2/connectors/cn_0000000000000000'],
      ['DELETE', '/v2/connectors/cn_0000000000000000'],
      ['POST', '/v2/connectors/cn_0000000000000000/rotate-key'],
    ]) {
      const res = await t.api(method as string, path as string, { token, ...(method !== 'GET' && { body: { provider: 'plivo' } }) });
      expect(res.status).toBe(403);
    }
  });

  it('refuses every management endpoint without a token', async () => {
    for (const [method, path] of [
      ['POST', '/v2/connectors'],
      ['GET', '/v2/connectors/cn_0000000000000000'],
      ['PATCH', '/v2/connectors/cn_0000000000000000'],
      ['DELETE', '/v2/connectors/cn_0000000000000000'],
      ['POST', '/v2/connectors/cn_0000000000000000/rotate-key'],
    ]) {
      expect((await t.api(method as string, path as string, method === 'GET' ? {} : { body: { provider: 'plivo' } })).status).toBe(401);
    }
  });

  it('never logs tokens or secrets', () => {
    const logs = t.logLines.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).not.toContain(secret);
    expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });
});
