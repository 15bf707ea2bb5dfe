import type { KMSClient } from '@aws-sdk/client-kms';
import { DecryptCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kmsClient } from '../../core/aws';
import { SecretBox } from '../../core/secret-box';
import { startKmsEmulator, type KmsEmulator } from '../../local/kms-emulator';

let dir: string;
let kms: KmsEmulator;
let client: KMSClient;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kms-'));
  kms = await startKmsEmulator(dir);
  client = kmsClient({ region: 'us-east-1', kmsEndpoint: kms.endpoint });
});
afterEach(async () => {
  client.destroy();
  await kms.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('KMS emulator through the real KMS client', () => {
  it('seals and opens a secret bound to its context', async () => {
    const box = new SecretBox(client, 'alias/test');
    const sealed = await box.seal('s3cret-value', { tenant: 'a' });
    expect(Buffer.from(sealed).toString('utf8')).not.toContain('s3cret-value');
    expect(await box.open(sealed, { tenant: 'a' })).toBe('s3cret-value');
    await expect(box.open(sealed, { tenant: 'b' })).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    await expect(box.open(sealed, {})).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
  });

  it('never produces the same ciphertext twice', async () => {
    const box = new SecretBox(client, 'alias/test');
    const [a, b] = await Promise.all([box.seal('x', {}), box.seal('x', {})]);
    expect(Buffer.from(a)).not.toEqual(Buffer.from(b));
  });

  it('detects a tampered ciphertext', async () => {
    const box = new SecretBox(client, 'alias/test');
    const sealed = Buffer.from(await box.seal('value', {}));
    sealed[sealed.length - 1]! ^= 1;
    await expect(box.open(sealed, {})).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
    await expect(box.open(Buffer.from('garbage'), {})).rejects.toMatchObject({ name: 'InvalidCiphertextException' });
  });

  it('refuses to decrypt under a different key id', async () => {
    const sealed = await new SecretBox(client, 'alias/one').seal('value', {});
    await expect(new SecretBox(client, 'alias/two').open(sealed, {})).rejects.toMatchObject({ name: 'IncorrectKeyException' });
  });

  it('keeps key material across restarts, in owner-only files', async () => {
    const sealed = await new SecretBox(client, 'alias/test').seal('persisted', {});
    client.destroy();
    await kms.close();
    kms = await startKmsEmulator(dir);
    client = kmsClient({ region: 'us-east-1', kmsEndpoint: kms.endpoint });
    expect(await new SecretBox(client, 'alias/test').open(sealed, {})).toBe('persisted');
    for (const file of readdirSync(dir)) expect(statSync(join(dir, file)).mode & 0o077).toBe(0);
  });

  it('answers bad requests with KMS error types, never crashing', async () => {
    await expect(client.send(new EncryptCommand({ KeyId: 'alias/test', Plaintext: new Uint8Array(5000) }))).rejects.toMatchObject({
      name: 'ValidationException',
    });
    await expect(client.send(new DecryptCommand({ CiphertextBlob: new Uint8Array(0) }))).rejects.toBeDefined();
    const raw = await fetch(kms.endpoint, { method: 'POST', headers: { 'x-amz-target': 'TrentService.Encrypt' }, body: '{not json' });
    expect(raw.status).toBe(400);
    const unknown = await fetch(kms.endpoint, { method: 'POST', headers: { 'x-amz-target': 'TrentService.ScheduleKeyDeletion' }, body: '{}' });
    expect(((await unknown.json()) as { __type: string }).__type).toBe('UnsupportedOperationException');
    expect(await new SecretBox(client, 'alias/test').open(await new SecretBox(client, 'alias/test').seal('ok', {}), {})).toBe('ok');
  });
});
