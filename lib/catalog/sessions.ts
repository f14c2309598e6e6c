import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from './db.ts';

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
  options: { ttlMs: number; maxMs: number; ip: string | null; userAgent: string | null },
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + Math.min(options.ttlMs, options.maxMs));
  await db.query(
    'insert into sessions (token_sha256, user_id, expires_at, ip, user_agent) values ($1, $2, $3, $4, $5)',
    [sessionTokenHash(token), userId, expiresAt, options.ip, options.userAgent?.slice(0, 300) ?? null],
  );
  return { token, expiresAt };
}

/**
 * The live session of a token (not expired, user not disabled), sliding its expiry forward by
 * `ttlMs` but never past `maxMs` after sign-in: an active session still ends.
 */
export async function touchSession(
  db: Queryable,
  token: string,
  ttlMs: number,
  maxMs: number,
): Promise<SessionRecord | undefined> {
  const { rows } = await db.query<{ user_id: string; expires_at: Date; last_seen_at: Date }>(
    `update sessions s set last_seen_at = now(),
            expires_at = least(s.created_at + $3 * interval '1 millisecond',
                               greatest(s.expires_at, now() + $2 * interval '1 millisecond'))
       from users u
      where s.token_sha256 = $1 and s.expires_at > now() and s.created_at > now() - $3 * interval '1 millisecond'
        and u.id = s.user_id and not u.disabled
      returning s.user_id, s.expires_at, s.last_seen_at`,
    [sessionTokenHash(token), ttlMs, maxMs],
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

/** Ends every session of a user but the one of `keepToken`: after a password change, other devices sign in again. */
export async function deleteOtherSessions(db: Queryable, userId: number, keepToken: string | null): Promise<number> {
  const result = await db.query('delete from sessions where user_id = $1 and token_sha256 is distinct from $2', [
    userId,
    keepToken === null ? null : sessionTokenHash(keepToken),
  ]);
  return result.rowCount ?? 0;
}
