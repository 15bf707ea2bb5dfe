import type { KMSClient } from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kmsClient } from '../../core/aws';
import { plivoTokenContext, type Connector } from '../../core/connectors/model';
import { PlivoAuthTokens } from '../../core/connectors/plivo-tokens';
import { ApiError } from '../../core/errors';
import { SecretBox } from '../../core/secret-box';
import { startKmsEmulator, type KmsEmulator } from '../../local/kms-emulator';

const AUTH_ID = 'MA0123456789ABCDEFGH';
const AUTH_TOKEN = 'A'.repeat(40);

let dir: string;
let kms: KmsEmulator;
let client: KMSClient;
let box: SecretBox;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'plivo-credentials-'));
  kms = await startKmsEmulator(dir);
  client = kmsClient({ region: 'us-east-1', kmsEndpoint: kms.endpoint });
  box = new SecretBox(client, 'alias/test');
});
afterAll(async () => {
  client.destroy();
  await kms.close();
  rmSync(dir, { recursive: true, force: true });
});

async function connector(authId: string | null, authToken: string | null): Promise<Connector> {
  const id = 'cn_0123456789abcdef';
  const now = new Date().toISOString();
  return {
    id,
    tenant: 't1',
    provider: 'plivo',
    name: null,
    defaultRoomId: null,
    defaultRuleId: null,
    region: null,
    webhookKey: 'whk_x',
    plivoAuthId: authId,
    plivoAuthToken: authToken === null ? null : await box.seal(authToken, plivoTokenContext('t1', id)),
    createdAt: now,
    updatedAt: now,
  };
}

describe('PlivoAuthTokens.credentials (KMS emulator through the real KMS client)', () => {
  it("gives the connector's auth id and decrypted token", async () => {
    expect(await new PlivoAuthTokens(box).credentials(await connector(AUTH_ID, AUTH_TOKEN))).toEqual({ authId: AUTH_ID, authToken: AUTH_TOKEN });
  });

  it.each([
    [AUTH_ID, null, /has no plivoAuthToken;/],
    [null, AUTH_TOKEN, /has no plivoAuthId;/],
    [null, null, /has no plivoAuthId and plivoAuthToken;/],
  ])('answers 409 plivo_credentials_missing for auth id %p, token %p', async (authId, authToken, message) => {
    const err: unknown = await new PlivoAuthTokens(box).credentials(await connector(authId, authToken)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: 'plivo_credentials_missing', message: expect.stringMatching(message) });
  });
});
