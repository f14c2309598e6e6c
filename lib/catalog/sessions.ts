import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { withTransaction, type Queryable } from './db.ts';

export interface SessionRecord {
  userId: number;
  expiresAt: Date;
  lastSeenAt: Date;
}

export const sessionTokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');

/** Opens a session and returns its token (256 random bits); only the token's SHA-256 is stored. */
export async function createSession(
  db: Queryable,
  userId: number,
  options: { ttlMs: number; ip: string | null; userAgent: string | null },
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + options.ttlMs);
  await db.query(
    'insert into sessions (token_sha256, user_id, expires_at, ip, user_agent) values ($1, $2, $3, $4, $5)',
    [sessionTokenHash(token), userId, expiresAt, options.ip, options.userAgent?.slice(0, 300) ?? null],
  );
  return { token, expiresAt };
}

/** The live session of a token (not expired, user not disabled), sliding its expiry forward. */
export async function touchSession(db: Queryable, token: string, ttlMs: number): Promise<SessionRecord | undefined> {
  const { rows } = await db.query<{ user_id: string; expires_at: Date; last_seen_at: Date }>(
    `update sessions s set last_seen_at = now(), expires_at = greatest(s.expires_at, now() + $2 * interval '1 millisecond')
       from users u
      where s.token_sha256 = $1 and s.expires_at > now() and u.id = s.user_id and not u.disabled
      returning s.user_id, s.expires_at, s.last_seen_at`,
    [sessionTokenHash(token), ttlMs],
  );
  return rows[0]
    ? { userId: Number(rows[0].user_id), expiresAt: rows[0].expires_at, lastSeenAt: rows[0].last_seen_at }
    : undefined;
}

export async function deleteSession(db: Queryable, token: string): Promise<void> {
  await db.query('delete from sessions where token_sha256 = $1', [sessionTokenHash(token)]);
}

export async function purgeExpiredSessions(db: Queryable): Promise<number> {
  const result = await db.query('delete from sessions where expires_at < now()');
  return result.rowCount ?? 0;
}

/** Current lockouts of the given keys (email:… / ip:…): the latest `locked_until` in the future. */
export async function lockedUntil(db: Queryable, keys: string[]): Promise<Date | null> {
  const { rows } = await db.query<{ until: Date | null }>(
    'select max(locked_until) as until from login_failures where key = any($1) and locked_until > now()',
    [keys],
  );
  return rows[0]?.until ?? null;
}

export async function failuresOf(db: Queryable, key: string): Promise<number> {
  const { rows } = await db.query<{ failures: number }>('select failures from login_failures where key = $1', [key]);
  return rows[0]?.failures ?? 0;
}

/**
 * Counts one failure for a key and returns the new count; at `limit` failures (and at every
 * further multiple) the key is locked for `lockMs`, doubled for each lockout already served.
 * Failures older than a day are forgotten.
 */
export async function recordLoginFailure(pool: pg.Pool, key: string, limit: number, lockMs: number): Promise<number> {
  return withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<{ failures: number }>(
      `insert into login_failures as f (key, failures, last_failure_at) values ($1, 1, now())
       on conflict (key) do update set
         failures = case when f.last_failure_at < now() - interval '1 day' then 1 else f.failures + 1 end,
         last_failure_at = now()
       returning failures`,
      [key],
    );
    const failures = rows[0]!.failures;
    if (failures >= limit && failures % limit === 0) {
      const lockouts = failures / limit;
      await tx.query(`update login_failures set locked_until = now() + $2 * interval '1 millisecond' where key = $1`, [
        key,
        lockMs * 2 ** Math.min(lockouts - 1, 6),
      ]);
    }
    return failures;
  });
}

export async function clearLoginFailures(db: Queryable, key: string): Promise<void> {
  await db.query('delete from login_failures where key = $1', [key]);
}
