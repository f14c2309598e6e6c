/**
 * Login throttling counters. Each attempt counts itself against its keys in one statement before
 * the password is checked: the increment and the count it returns are one atomic step, so twenty
 * concurrent attempts see twenty different counts and only those within the limit go on.
 */
import type { Queryable } from './db.ts';

/** A throttling key and the most attempts it may make in one window. */
export interface ThrottleKey {
  key: string;
  limit: number;
}

/**
 * Counts one attempt against every key (a new window starts when the last one is older than
 * `windowMs`) and returns the keys now over their limit, with the end of their window.
 */
export async function countLoginAttempt(
  db: Queryable,
  keys: ThrottleKey[],
  windowMs: number,
): Promise<Array<{ key: string; until: Date }>> {
  const { rows } = await db.query<{ key: string; attempts: number; until: Date }>(
    `insert into login_attempts as a (key, window_start, attempts)
       select unnest($1::text[]), now(), 1
     on conflict (key) do update set
       attempts = case when a.window_start <= now() - $2 * interval '1 millisecond' then 1 else a.attempts + 1 end,
       window_start = case when a.window_start <= now() - $2 * interval '1 millisecond' then now() else a.window_start end
     returning key, attempts, window_start + $2 * interval '1 millisecond' as until`,
    [keys.map((k) => k.key), windowMs],
  );
  const limits = new Map(keys.map((k) => [k.key, k.limit]));
  return rows.filter((r) => r.attempts > limits.get(r.key)!).map((r) => ({ key: r.key, until: r.until }));
}

/** Takes back one attempt of a key: a successful sign-in does not count against its address. */
export async function uncountLoginAttempt(db: Queryable, key: string): Promise<void> {
  await db.query('update login_attempts set attempts = greatest(attempts - 1, 0) where key = $1', [key]);
}

/** Forgets a key's attempts: a successful sign-in clears its account's count from that address. */
export async function clearLoginAttempts(db: Queryable, key: string): Promise<void> {
  await db.query('delete from login_attempts where key = $1', [key]);
}

/** The attempts a key has made in its current window (0 once the window has passed). */
export async function loginAttemptsOf(db: Queryable, key: string, windowMs: number): Promise<number> {
  const { rows } = await db.query<{ attempts: number }>(
    `select attempts from login_attempts where key = $1 and window_start > now() - $2 * interval '1 millisecond'`,
    [key, windowMs],
  );
  return rows[0]?.attempts ?? 0;
}
