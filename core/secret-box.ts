import { DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { callDependency } from './errors';

/**
 * Encrypts small secrets (API secrets, Plivo auth tokens) with a KMS key. The encryption context binds
 * each ciphertext to the record it belongs to, so a ciphertext copied to another record won't decrypt.
 */
export class SecretBox {
  constructor(
    private readonly kms: KMSClient,
    private readonly keyId: string,
  ) {}

  async seal(plaintext: string, context: Record<string, string>): Promise<Uint8Array> {
    const out = await callDependency('key service', () =>
      this.kms.send(new EncryptCommand({ KeyId: this.keyId, Plaintext: Buffer.from(plaintext, 'utf8'), EncryptionContext: context })),
    );
    if (!out.CiphertextBlob) throw new Error('KMS Encrypt returned no ciphertext');
    return out.CiphertextBlob;
  }

  async open(ciphertext: Uint8Array, context: Record<string, string>): Promise<string> {
    const out = await callDependency('key service', () =>
      this.kms.send(new DecryptCommand({ KeyId: this.keyId, CiphertextBlob: ciphertext, EncryptionContext: context })),
    );
    if (!out.Plaintext) throw new Error('KMS Decrypt returned no plaintext');
    return Buffer.from(out.Plaintext).toString('utf8');
  }
}
