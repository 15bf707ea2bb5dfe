/**
 * A per-process cache of at most `max` entries: full, it starts over. Cheaper than an LRU, and enough for what these
 * hold (decrypted secrets and lookups that rarely change), where a miss costs one read.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (this.size >= this.max && !this.has(key)) this.clear();
    return super.set(key, value);
  }
}
