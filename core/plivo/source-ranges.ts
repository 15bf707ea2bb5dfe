import { BlockList, isIP } from 'node:net';

/**
 * An optional allow-list of the addresses Plivo calls from (its published source ranges): set, the Answer URL refuses
 * every other source before it reads anything, so a flood from elsewhere costs a comparison, never a database read.
 */
const CIDR = /^([^/]+)\/(\d{1,3})$/;

/** `PLIVO_SOURCE_RANGES`: CIDRs separated by commas (`18.214.109.128/25,2600:1f18::/32`); empty allows any source. */
export function parseSourceRanges(value: string): readonly string[] {
  const ranges = value
    .split(',')
    .map((range) => range.trim())
    .filter(Boolean);
  for (const range of ranges) {
    const [, address = '', prefix = ''] = CIDR.exec(range) ?? [];
    const family = isIP(address);
    if (!family || Number(prefix) > (family === 4 ? 32 : 128)) throw new Error(`"${range}" is not a CIDR range such as 18.214.109.128/25 or 2600:1f18::/32`);
  }
  return ranges;
}

/** Whether a source address is in `ranges`; null when the list is empty (any source). */
export function sourceAllowList(ranges: readonly string[]): ((address: string) => boolean) | null {
  if (!ranges.length) return null;
  const list = new BlockList();
  for (const range of ranges) {
    const [address = '', prefix = ''] = range.split('/');
    list.addSubnet(address, Number(prefix), isIP(address) === 4 ? 'ipv4' : 'ipv6');
  }
  return (address) => {
    // An IPv4 peer on a dual-stack socket reads as ::ffff:a.b.c.d.
    const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
    const family = isIP(plain);
    return family !== 0 && list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  };
}
