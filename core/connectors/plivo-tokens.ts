import { checkPlivoSignature, type SignatureCheck, type SignedRequest } from '../plivo/signature';
import { BoundedMap } from '../bounded-map';
import { ApiError } from '../errors';
import type { PlivoCredentials } from '../plivo/voice-api';
import type { SecretBox } from '../secret-box';
import { plivoTokenContext, type Connector } from './model';

const MAX_ENTRIES = 1000;

/** Whether the connector holds both halves of a Plivo account: what call control needs (`PlivoAuthTokens.credentials`). */
export const holdsCredentials = (connector: Connector): boolean => connector.plivoAuthId !== null && connector.plivoAuthToken !== null;

/**
 * Connectors' Plivo auth tokens, decrypted once per process. Keyed by ciphertext: a changed token is a
 * new ciphertext, so an entry can never be stale.
 */
export class PlivoAuthTokens {
  private readonly tokens = new BoundedMap<string, string>(MAX_ENTRIES);

  constructor(private readonly box: SecretBox) {}

  /** The connector's token, or null when it holds none. */
  async of(connector: Connector): Promise<string | null> {
    const sealed = connector.plivoAuthToken;
    if (!sealed) return null;
    const key = Buffer.from(sealed).toString('base64');
    let token = this.tokens.get(key);
    if (token === undefined) {
      token = await this.box.open(sealed, plivoTokenContext(connector.tenant, connector.id));
      this.tokens.set(key, token);
    }
    return token;
  }

  /**
   * What call control calls Plivo's Voice API with: the connector's auth id and decrypted token, or a 409
   * `plivo_credentials_missing` naming each field the connector lacks.
   */
  async credentials(connector: Connector): Promise<PlivoCredentials> {
    const authId = connector.plivoAuthId;
    const authToken = await this.of(connector);
    if (authId !== null && authToken !== null) return { authId, authToken };
    const missing = [authId === null && 'plivoAuthId', authToken === null && 'plivoAuthToken'].filter(Boolean).join(' and ');
    throw new ApiError(409, 'plivo_credentials_missing', `Connector ${connector.id} has no ${missing}; set it with PATCH /v2/connectors/${connector.id}`);
  }

  /**
   * The one signature policy, for the Answer URL and the media server's stream upgrades alike: a request to a
   * connector that holds a Plivo auth token must carry a valid signature by it; one holding none is `unsigned`.
   */
  async verify(connector: Connector, request: SignedRequest): Promise<SignatureCheck | 'unsigned'> {
    const token = await this.of(connector);
    return token ? checkPlivoSignature(token, request) : 'unsigned';
  }
}
