import { PROVIDERS, type ProviderId } from '../providers';

/** A connector as stored. `plivoAuthToken` is KMS ciphertext and never leaves the service. */
export interface Connector {
  readonly id: string;
  readonly tenant: string;
  readonly provider: ProviderId;
  readonly name: string | null;
  readonly defaultRoomId: string | null;
  readonly defaultRuleId: string | null;
  readonly region: string | null;
  readonly webhookKey: string;
  /** The Plivo account's auth id (`MA…`/`SA…`): not a secret to Plivo, but never returned either. */
  readonly plivoAuthId: string | null;
  readonly plivoAuthToken: Uint8Array | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Fields a PATCH may change; `null` clears a field. */
export interface ConnectorChanges {
  readonly name?: string | null;
  readonly defaultRoomId?: string | null;
  readonly defaultRuleId?: string | null;
  readonly region?: string | null;
  readonly plivoAuthId?: string | null;
  readonly plivoAuthToken?: Uint8Array | null;
}

/** The connector as the API shows it: the seed's fields, plus whether each Plivo credential is set (never the values). */
export interface ConnectorView {
  readonly id: string;
  readonly provider: ProviderId;
  readonly name: string | null;
  readonly webhookUrl: string;
  readonly defaultRoomId: string | null;
  readonly defaultRuleId: string | null;
  readonly region: string | null;
  readonly plivoAuthIdSet: boolean;
  readonly plivoAuthTokenSet: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** KMS encryption context of a connector's Plivo auth token: the ciphertext opens for this connector only. */
export const plivoTokenContext = (tenant: string, connectorId: string) => ({ purpose: 'plivo-auth-token', tenant, connectorId });

export function webhookUrl(publicUrl: string, connector: Pick<Connector, 'provider' | 'webhookKey'>): string {
  return `${publicUrl}${PROVIDERS[connector.provider].hookPath}/${connector.webhookKey}`;
}

/**
 * The URL of a call's callbacks: the connector's Answer URL `answerUrl` (any query dropped) naming the call, and with
 * `transfer` the step of its transfer (`xml`, `dial`, `action`). Plivo signs every request to it. `answerUrl` is built
 * from PUBLIC_URL (never a request's Host header) and holds the connector's live key.
 */
export function callCallbackUrl(answerUrl: string, callId: string, transfer?: 'xml' | 'dial' | 'action'): string {
  return `${answerUrl.split('?')[0] ?? ''}?callId=${encodeURIComponent(callId)}${transfer ? `&transfer=${transfer}` : ''}`;
}

export function toView(connector: Connector, publicUrl: string): ConnectorView {
  return {
    id: connector.id,
    provider: connector.provider,
    name: connector.name,
    webhookUrl: webhookUrl(publicUrl, connector),
    defaultRoomId: connector.defaultRoomId,
    defaultRuleId: connector.defaultRuleId,
    region: connector.region,
    plivoAuthIdSet: connector.plivoAuthId !== null,
    plivoAuthTokenSet: connector.plivoAuthToken !== null,
    createdAt: connector.createdAt,
    updatedAt: connector.updatedAt,
  };
}
