/**
 * Telephony providers a connector can front. Each names where its Answer URL lives; adding a
 * provider is adding an entry here plus its hook handler.
 */
export interface Provider {
  /** Path prefix of the provider's Answer URL; the webhook key follows it. */
  readonly hookPath: string;
}

export const PROVIDER_IDS = ['plivo'] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export const PROVIDERS: Readonly<Record<ProviderId, Provider>> = {
  plivo: { hookPath: '/v2/hooks/plivo' },
};

export function isProviderId(value: string): value is ProviderId {
  return (PROVIDER_IDS as readonly string[]).includes(value);
}
