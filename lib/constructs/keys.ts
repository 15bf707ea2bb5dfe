import { Key, KeySpec, KeyUsage } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface KeysProps {
  /**
   * Alias of `dataKey`, e.g. `alias/plivo-connector-data`: how stacks in other regions name it in grants
   * (`kms:ResourceAliases`) and how their code names it as a key id. @default - no alias
   */
  readonly dataKeyAlias?: string;
  /** Alias of `tableKey`, for grants from other regions' stacks, like `dataKeyAlias`. @default - no alias */
  readonly tableKeyAlias?: string;
}

const ALIAS_NAME = /^alias\/[a-zA-Z0-9/_-]{1,250}$/;

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

  constructor(scope: Construct, id: string, props: KeysProps = {}) {
    super(scope, id);
    for (const [name, alias] of Object.entries(props)) {
      if (typeof alias === 'string' && (!ALIAS_NAME.test(alias) || alias.startsWith('alias/aws/'))) {
        throw new Error(
          `Keys ${id}: ${name} must be "alias/" followed by letters, digits, "/", "_" or "-" (not alias/aws/...), ` +
            `like "alias/plivo-connector-data"; got ${JSON.stringify(alias)}.`,
        );
      }
    }
    this.tableKey = new Key(this, 'TableKey', {
      description: 'Plivo connector: encryption at rest of the data table',
      enableKeyRotation: true,
      ...(props.tableKeyAlias !== undefined && { alias: props.tableKeyAlias }),
    });
    this.dataKey = new Key(this, 'DataKey', {
      description: 'Plivo connector: encryption of stored secrets (tenant API secrets, Plivo auth tokens)',
      enableKeyRotation: true,
      ...(props.dataKeyAlias !== undefined && { alias: props.dataKeyAlias }),
    });
    // Asymmetric keys cannot rotate automatically; a new key means publishing a new public key to receivers.
    this.webhookSigningKey = new Key(this, 'WebhookSigningKey', {
      description: 'Plivo connector: RSA signatures of webhook deliveries',
      keySpec: KeySpec.RSA_2048,
      keyUsage: KeyUsage.SIGN_VERIFY,
    });
  }
}
