import { Key, KeySpec, KeyUsage } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/**
 * The control plane's KMS keys, one per purpose so each key policy and grant stays narrow. All are retained when
 * the stack is deleted: losing a key makes whatever it protected unreadable.
 */
export class Keys extends Construct {
  /** Encrypts the data table at rest; DynamoDB itself uses it on the caller's behalf. */
  public readonly tableKey: Key;
  /**
   * Encrypts secrets inside items (tenant API secrets, Plivo auth tokens) before they are written, so a
   * table read alone never yields a secret: callers need kms:Decrypt on this key as well.
   */
  public readonly dataKey: Key;
  /** RSA_2048 SIGN_VERIFY key that signs webhook bodies (`videosdk-signature`); its public half is published. */
  public readonly webhookSigningKey: Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.tableKey = new Key(this, 'TableKey', {
      description: 'Plivo connector: encryption at rest of the data table',
      enableKeyRotation: true,
    });
    this.dataKey = new Key(this, 'DataKey', {
      description: 'Plivo connector: encryption of stored secrets (tenant API secrets, Plivo auth tokens)',
      enableKeyRotation: true,
    });
    // Asymmetric keys cannot rotate automatically; a new key means publishing a new public key to receivers.
    this.webhookSigningKey = new Key(this, 'WebhookSigningKey', {
      description: 'Plivo connector: RSA signatures of webhook deliveries',
      keySpec: KeySpec.RSA_2048,
      keyUsage: KeyUsage.SIGN_VERIFY,
    });
  }
}
