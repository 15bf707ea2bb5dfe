import { CONNECTOR_ID, newApiSecret, newConnectorId, newRuleId, newWebhookKey, randomString, RULE_ID } from '../../core/ids';

describe('ids', () => {
  it('makes connector ids of cn_ + 16 lowercase Crockford base32 chars that sort by creation time', () => {
    const ids = [0, 1, 1000, 1_700_000_000_000, 1_800_000_000_000, 32 ** 9 - 1].map((t) => newConnectorId(t));
    for (const id of ids) expect(id).toMatch(/^cn_[0-9a-hjkmnp-tv-z]{16}$/);
    expect([...ids].sort()).toEqual(ids);
  });

  it('has patterns that accept exactly the ids it makes', () => {
    expect(newConnectorId()).toMatch(CONNECTOR_ID);
    expect(newRuleId()).toMatch(RULE_ID);
    for (const bad of ['cn_0000000000000000x', 'cn_000000000000000i', 'cn_000000000000000U', 'rr_0000000000000000', ' cn_0000000000000000']) expect(bad).not.toMatch(CONNECTOR_ID);
    expect(newConnectorId()).not.toMatch(RULE_ID);
  });

  it('makes webhook keys of whk_ + 40 base62 chars, all distinct', () => {
    const keys = new Set(Array.from({ length: 2000 }, () => newWebhookKey()));
    expect(keys.size).toBe(2000);
    for (const key of keys) expect(key).toMatch(/^whk_[0-9A-Za-z]{40}$/);
  });

  it('draws characters uniformly (no modulo bias)', () => {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'; // 62: 256 % 62 != 0
    const counts = new Map<string, number>();
    const sample = randomString(alphabet, 620_000);
    for (const ch of sample) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(62);
    // Expected 10,000 each; a biased draw would give the first 8 chars ~25% more.
    for (const count of counts.values()) expect(Math.abs(count - 10_000)).toBeLessThan(600);
  });

  it('makes 256-bit API secrets', () => {
    expect(Buffer.from(newApiSecret(), 'base64url')).toHaveLength(32);
    expect(newApiSecret()).not.toBe(newApiSecret());
  });
});
