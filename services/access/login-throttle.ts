/**
 * The sign-in throttling rule: attempts are counted per (account, client address) and per client
 * address in short windows, before the password is checked. An account is never locked for
 * everyone, so nobody can keep its owner out by failing on purpose from elsewhere.
 */
import { HindsightError } from '../../lib/errors.ts';
import type { AccessStore } from '../../lib/catalog/access.ts';
import type { LoginPolicy } from './types.ts';

export interface ThrottleKeys {
  account: string;
  address: string;
}

export function throttleKeys(email: string, ip: string): ThrottleKeys {
  return { account: `account:${email}|${ip}`, address: `address:${ip}` };
}

/**
 * Counts this attempt; throws rate_limited when either key is over its limit. Only attempts that
 * pass reach the password check, however many run at once.
 */
export async function admitAttempt(store: AccessStore, policy: LoginPolicy, keys: ThrottleKeys): Promise<void> {
  const over = await store.countLoginAttempt(
    [
      { key: keys.account, limit: policy.accountLimit },
      { key: keys.address, limit: policy.ipLimit },
    ],
    policy.windowMs,
  );
  if (over.length === 0) return;
  const until = new Date(Math.max(...over.map((o) => o.until.getTime())));
  throw new HindsightError(
    'rate_limited',
    `too many sign-in attempts from this address: try again after ${until.toISOString().slice(11, 19)} UTC`,
  );
}

/** After a successful sign-in: the account's count from this address restarts, and the attempt is not held against the address. */
export async function forgiveAttempt(store: AccessStore, keys: ThrottleKeys): Promise<void> {
  await store.clearLoginAttempts(keys.account);
  await store.uncountLoginAttempt(keys.address);
}

/** How long to wait before answering a failure: grows with the failures of this account from this address. */
export async function failureDelayMs(store: AccessStore, policy: LoginPolicy, keys: ThrottleKeys): Promise<number> {
  const failures = await store.loginAttemptsOf(keys.account, policy.windowMs);
  return Math.min(policy.baseDelayMs * 2 ** Math.max(0, failures - 1), policy.maxDelayMs);
}
