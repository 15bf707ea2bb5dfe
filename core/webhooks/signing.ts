import { GetPublicKeyCommand, SignCommand, type KMSClient } from '@aws-sdk/client-kms';
import { createHash, createPublicKey, randomBytes } from 'node:crypto';

/** A Standard Webhooks secret: `whsec_` and 32 random bytes, base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * Webhook signatures: `videosdk-signature` is the base64 RSA-SHA256 (PKCS#1 v1.5) signature of the
 * exact body bytes, made by a KMS asymmetric key (RSA_2048). KMS is given the SHA-256 digest
 * (`MessageType: DIGEST`), so bodies of any size can be signed. Locally the KMS emulator holds the key.
 */
export class WebhookSigner {
  private publicKey: Promise<string> | null = null;

  constructor(
    private readonly kms: KMSClient,
    private readonly keyId: string,
  ) {}

  async sign(body: Buffer): Promise<string> {
    const out = await this.kms.send(
      new SignCommand({
        KeyId: this.keyId,
        Message: createHash('sha256').update(body).digest(),
        MessageType: 'DIGEST',
        SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
      }),
    );
    if (!out.Signature) throw new Error('KMS returned no signature');
    return Buffer.from(out.Signature).toString('base64');
  }

  /** The key that verifies every delivery, as a PEM `PUBLIC KEY`; fetched once per process. */
  publicKeyPem(): Promise<string> {
    this.publicKey ??= this.kms.send(new GetPublicKeyCommand({ KeyId: this.keyId })).then(
      (out) => {
        if (!out.PublicKey) throw new Error('KMS returned no public key');
        return createPublicKey({ key: Buffer.from(out.PublicKey), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }).toString();
      },
      (err: unknown) => {
        this.publicKey = null;
        throw err;
      },
    );
    return this.publicKey;
  }
}
