import type { DocumentStore } from '../documents';
import { ReadCache } from '../read-cache';
import type { Webhook } from './model';

/** Tenants whose webhooks one process remembers; past this it starts over. */
const CACHE_TENANTS = 1000;

/**
 * A tenant's webhooks, read at most once per `maxAgeMs` per process: what the media servers and the sweeper publish
 * call events to, so a call's events cost no read of its tenant's webhooks each. A webhook created, changed or
 * deleted reaches them within `maxAgeMs` (the Answer URL reads them fresh with each call's setup).
 */
export class WebhookCache {
  private readonly cache: ReadCache<readonly Webhook[]>;

  constructor(
    private readonly store: Pick<DocumentStore<Webhook>, 'all'>,
    maxAgeMs: number,
  ) {
    this.cache = new ReadCache(maxAgeMs, CACHE_TENANTS);
  }

  /** The tenant's webhooks as read at most `maxAgeMs` ago, or, when `readAfterMs` is given, read after it. */
  of(tenant: string, readAfterMs = -Infinity): Promise<readonly Webhook[]> {
    return this.cache.of(tenant, () => this.store.all(tenant), readAfterMs);
  }
}
