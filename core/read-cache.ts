import { BoundedMap } from './bounded-map';

interface Entry<V> {
  readonly value: Promise<V>;
  readonly readAtMs: number;
}

/**
 * Values read at most once per `maxAgeMs` per process and key, at most `maxEntries` of them (full, it starts over): what
 * event publishers look up for every event (a tenant's webhooks, a room's webhook) without a read for each. A change
 * reaches them within `maxAgeMs`. A failed read is not remembered: the next lookup reads again.
 */
export class ReadCache<V> {
  private readonly entries: BoundedMap<string, Entry<V>>;

  constructor(
    private readonly maxAgeMs: number,
    maxEntries: number,
  ) {
    this.entries = new BoundedMap(maxEntries);
  }

  /** `key`'s value as `read` gave it at most `maxAgeMs` ago, or, when `readAfterMs` is given, after it. */
  of(key: string, read: () => Promise<V>, readAfterMs = -Infinity): Promise<V> {
    const now = Date.now();
    const cached = this.entries.get(key);
    if (cached && now - cached.readAtMs < this.maxAgeMs && cached.readAtMs > readAfterMs) return cached.value;
    const entry: Entry<V> = { value: read(), readAtMs: now };
    this.entries.set(key, entry);
    entry.value.catch(() => this.entries.get(key) === entry && this.entries.delete(key));
    return entry.value;
  }
}
