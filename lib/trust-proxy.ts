/**
 * HINDSIGHT_TRUST_PROXY: which reverse proxies may tell the console the client's address (in
 * X-Forwarded-For) and protocol. Off by default, so a client cannot claim an address it does not
 * have; a hop count trusts that many proxies in front, a list trusts only those addresses.
 */
import { isIP } from 'node:net';

/** As express's 'trust proxy' setting takes it: false, a hop count, or proxy addresses/subnets. */
export type TrustProxy = false | number | string[];

const NAMED = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isAddressOrSubnet(entry: string): boolean {
  if (NAMED.has(entry)) return true;
  const [address, prefix, extra] = entry.split('/');
  if (extra !== undefined || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d+$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
}

/** The problem with a setting's value, or null when it is usable. */
export function trustProxyProblem(value: string): string | null {
  const v = value.trim();
  if (/^(false|off|0|\d+)$/.test(v)) return null;
  const bad = v
    .split(',')
    .map((e) => e.trim())
    .filter((e) => !isAddressOrSubnet(e));
  return bad.length === 0
    ? null
    : `must be off, a hop count or a list of proxy addresses/subnets (e.g. 10.0.0.1,10.1.0.0/16 or loopback); not ${bad.join(', ')}`;
}

export function parseTrustProxy(value: string | undefined): TrustProxy {
  const v = (value ?? '').trim();
  if (v === '' || /^(false|off|0)$/.test(v)) return false;
  if (/^\d+$/.test(v)) return Number(v);
  return v.split(',').map((e) => e.trim());
}
