import { lookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Where a tenant's URLs may point: webhooks (https) and the agents the bridge dials (wss). In AWS a target must
 * use the secure scheme and every address its host resolves to must be public: private, loopback, link-local (the
 * instance metadata service), shared, multicast and reserved ranges are refused, at registration and again on every
 * connection (DNS may change in between). Local mode allows the plain scheme to localhost, and private addresses.
 */
// One list per family: a BlockList also judges IPv4 addresses by its IPv6 rules (as IPv4-mapped ones).
const BLOCKED_V4 = new BlockList();
const BLOCKED_V6 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  BLOCKED_V4.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  // IPv4-mapped and NAT64 addresses reach IPv4 hosts the rules above would judge: refused as a whole.
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  BLOCKED_V6.addSubnet(net, prefix, 'ipv6');
}

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return family === 4 ? !BLOCKED_V4.check(address, 'ipv4') : !BLOCKED_V6.check(address, 'ipv6');
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The schemes a kind of target may use: `secure` anywhere, `plain` only to localhost in local mode. */
export interface TargetSchemes {
  readonly secure: string;
  readonly plain: string;
}
export const WEBHOOK_SCHEMES: TargetSchemes = { secure: 'https:', plain: 'http:' };
export const AGENT_SCHEMES: TargetSchemes = { secure: 'wss:', plain: 'ws:' };

const schemeName = (scheme: string) => scheme.slice(0, -1);

/** Why `url` cannot be a target, or null when it can (syntax and scheme only: no DNS). */
export function urlProblem(url: string, allowPrivate: boolean, schemes: TargetSchemes = WEBHOOK_SCHEMES): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute URL';
  }
  if (parsed.username || parsed.password) return 'must not carry credentials';
  if (parsed.hash) return 'must not have a fragment';
  if (parsed.protocol === schemes.secure) return null;
  if (parsed.protocol === schemes.plain && allowPrivate && LOCAL_HOSTS.has(parsed.hostname)) return null;
  const secure = schemeName(schemes.secure);
  return allowPrivate ? `must be ${secure} (${schemeName(schemes.plain)} only for localhost or 127.0.0.1)` : `must be ${secure}`;
}

/** Why `url` cannot be a target: its form, then (unless private targets are allowed) where its host resolves. */
export async function targetProblem(url: string, allowPrivate: boolean, schemes: TargetSchemes): Promise<string | null> {
  return urlProblem(url, allowPrivate, schemes) ?? (allowPrivate ? null : await addressProblem(url));
}

function resolveAll(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => lookup(hostname, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));
}

/** Why the host of `url` is not a safe target in AWS (resolving it), or null when every address is public. */
export async function addressProblem(url: string): Promise<string | null> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await resolveAll(host)).map((a) => a.address);
  } catch {
    return `host ${host} does not resolve`;
  }
  // Which address is not said: registration must not become a way to map internal DNS names.
  return addresses.every(isPublicAddress) ? null : `host ${host} is or resolves to a private, loopback or link-local address`;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http(s).request that refuses non-public addresses, so the address checked is the
 * address connected to (no DNS rebinding between check and connect).
 */
export function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '');
    const blocked = addresses.find((a) => !isPublicAddress(a.address));
    if (blocked) {
      const refused: NodeJS.ErrnoException = new Error(`${hostname} resolves to a non-public address (${blocked.address})`);
      refused.code = 'ENOTPUBLIC';
      return callback(refused, '');
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0] as LookupAddress;
    callback(null, first.address, first.family);
  });
}
