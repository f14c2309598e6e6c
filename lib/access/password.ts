import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Console passwords, hashed with scrypt (RFC 7914) and a per-user 16-byte salt. The cost
 * parameters are stored with each hash (`scrypt$N$r$p$salt$hash`), so raising them later only
 * affects new hashes and old ones keep verifying. N = 2^15, r = 8 follows OWASP's current minimum
 * and costs about 32 MiB and 50-100 ms per check.
 */
const DEFAULT_PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 128 * params.N * params.r * 2 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, DEFAULT_PARAMS);
  const { N, r, p } = DEFAULT_PARAMS;
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

let checks = 0;
/** How many passwords this process has checked (the sign-in throttling test counts them). */
export const passwordChecks = (): number => checks;

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  checks += 1;
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  const key = await derive(password, salt, { N, r, p });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * True when `stored` was made with weaker parameters than new hashes get (or in a form this module
 * no longer writes): the next successful sign-in, which holds the plain password, hashes it again.
 */
export function needsRehash(stored: string): boolean {
  const [scheme, N, r, p] = stored.split('$');
  return (
    scheme !== 'scrypt' || Number(N) < DEFAULT_PARAMS.N || Number(r) < DEFAULT_PARAMS.r || Number(p) < DEFAULT_PARAMS.p
  );
}

/**
 * A hash of a random password: checking a login against it costs the same as against a real
 * account, so response times do not tell which emails exist.
 */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  return decoy;
}

export const passwordPolicy = { minLength: 10, maxLength: 200 } as const;
