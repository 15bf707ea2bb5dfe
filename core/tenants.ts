import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { bin, db, isConditionFailure, readOptBin, str } from './dynamo';
import { newApiSecret } from './ids';
import type { SecretBox } from './secret-box';

/** A tenant is named by its API key (`apikey` in tokens); its HS256 secret is stored KMS-encrypted. */
export const API_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const tenantKey = (apikey: string) => ({ pk: str(`TENANT#${apikey}`), sk: str('TENANT') });
const secretContext = (apikey: string) => ({ purpose: 'api-secret', tenant: apikey });

export class TenantStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
    private readonly box: SecretBox,
  ) {}

  /** The tenant's API secret, or null when no such tenant exists. */
  async getSecret(apikey: string): Promise<string | null> {
    const out = await db(() =>
      this.dynamo.send(new GetItemCommand({ TableName: this.tableName, Key: tenantKey(apikey), ConsistentRead: true })),
    );
    const sealed = out.Item && readOptBin(out.Item, 'secret');
    return sealed ? this.box.open(sealed, secretContext(apikey)) : null;
  }

  /** Returns the tenant's secret, creating the tenant with a fresh random secret on first use. */
  async ensureSecret(apikey: string): Promise<string> {
    if (!API_KEY.test(apikey)) throw new Error(`Invalid API key "${apikey}": use 1-64 of A-Z a-z 0-9 . _ -`);
    const existing = await this.getSecret(apikey);
    if (existing) return existing;
    const secret = newApiSecret();
    const item = {
      ...tenantKey(apikey),
      type: str('tenant'),
      secret: bin(await this.box.seal(secret, secretContext(apikey))),
      createdAt: str(new Date().toISOString()),
    };
    try {
      await db(() =>
        this.dynamo.send(
          new PutItemCommand({ TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
        ),
      );
      return secret;
    } catch (err) {
      // Another process created it first: theirs stands.
      if (!isConditionFailure(err)) throw err;
      const winner = await this.getSecret(apikey);
      if (!winner) throw err;
      return winner;
    }
  }
}
