/**
 * /setup answers only on the console's own names: the host of HINDSIGHT_PUBLIC_URL, or loopback.
 * A page on another site that rebinds its DNS name to this machine reaches the console with its own
 * name in Host; refusing that name keeps it from creating the owner (DNS rebinding).
 */
import { isIP } from 'node:net';

function isLoopback(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

/** Why `url` (the request's, its host from the Host header) may not set up the console, or null. */
export function setupHostProblem(url: URL, publicUrl: string | undefined): string | null {
  if (isLoopback(url.hostname)) return null;
  const own = publicUrl ? new URL(publicUrl).host : undefined;
  if (own && url.host === own) return null;
  return own
    ? `the first owner is created only at ${new URL(publicUrl!).origin}/setup or on this machine's loopback address, not at ${url.host}`
    : `the first owner is created only on this machine's loopback address (http://127.0.0.1:<port>/setup) unless HINDSIGHT_PUBLIC_URL names the console's address; not at ${url.host}`;
}
