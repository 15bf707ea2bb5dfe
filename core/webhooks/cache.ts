import { BoundedMap } from '../bounded-map';
import type { DocumentStore } from '../documents';
import type { Webhook } from './model';

/** Tenants whose webhooks one process remembers; past this it starts over. */
const CACHE_TENANTS = 1000;

interface Entry {
  readonly webhooks: Promise<readonly Webhook[]>;
  readonly readAtMs: number;
}

/**
 * A tenant's webhooks, read at most once per `maxAgeMs` per process: what the media servers and the sweeper publish
 * call events to, so a call's events cost no read of its tenant's webhooks each. A webhook created, changed or
 * deleted reaches them within `maxAgeMs` (the Answer URL reads them fresh with each call's setup).
 */
export class WebhookCache {
  private readonly entries = new BoundedMap<string, Entry>(CACHE_TENANTS);

  constructor(
    private readonly store: Pick<DocumentStore<Webhook>, 'all'>,
    private readonly maxAgeMs: number,
  ) {}

  /** The tenant's webhooks as read at most `maxAgeMs` ago, or, when `readAfterMs` is given, read after it. */
  async of(tenant: string, readAfterMs = -Infinity): Promise<readonly Webhook[]> {
    const now = Date.now();
    const cached = this.entries.get(tenant);
    if (cached && now - cached.readAtMs < this.maxAgeMs && cached.readAtMs > readAfterMs) return cached.webhooks;
    const entry: Entry = { webhooks: this.store.all(tenant), readAtMs: now };
    this.entries.set(tenant, entry);
    // A failed read is not remembered: the next event reads again.
    entry.webhooks.catch(() => this.entries.get(tenant) === entry && this.entries.delete(tenant));
    return entry.webhooks;
  }
}
