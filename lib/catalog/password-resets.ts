/**
 * One-time password reset links. Only each token's SHA-256 is stored; a new link for a user
 * replaces the earlier ones, and using a link sets the password, ends the user's sessions and
 * deletes the link in one transaction.
 */
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { HindsightError } from '../errors.ts';
import { withTransaction, type Queryable } from './db.ts';

const hashOf = (token: string): string => createHash('sha256').update(token).digest('hex');

export async function issuePasswordReset(
  pool: pg.Pool,
  userId: number,
  ttlMs: number,
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(24).toString('base64url');
  return withTransaction(pool, async (tx) => {
    await tx.query('delete from password_resets where user_id = $1', [userId]);
    const { rows } = await tx.query<{ expires_at: Date }>(
      `insert into password_resets (token_sha256, user_id, expires_at)
       values ($1, $2, now() + $3 * interval '1 millisecond') returning expires_at`,
      [hashOf(token), userId, ttlMs],
    );
    return { token, expiresAt: rows[0]!.expires_at };
  });
}

/** The user a live reset token belongs to, without using it up (the page shows whose password it sets). */
export async function passwordResetUser(db: Queryable, token: string): Promise<number | undefined> {
  const { rows } = await db.query<{ user_id: string }>(
    'select user_id from password_resets where token_sha256 = $1 and expires_at > now()',
    [hashOf(token)],
  );
  return rows[0] ? Number(rows[0].user_id) : undefined;
}

/** Uses a reset token: sets the password hash and ends every session of its user. Returns the user's id. */
export async function usePasswordReset(pool: pg.Pool, token: string, passwordHash: string): Promise<number> {
  return withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<{ user_id: string }>(
      'delete from password_resets where token_sha256 = $1 and expires_at > now() returning user_id',
      [hashOf(token)],
    );
    if (!rows[0])
      throw new HindsightError(
        'forbidden',
        'this password reset link is wrong, used or expired: ask the operator for a new one (hindsight user reset-password <email>)',
      );
    const userId = Number(rows[0].user_id);
    await tx.query('update users set password_hash = $2 where id = $1', [userId, passwordHash]);
    await tx.query('delete from sessions where user_id = $1', [userId]);
    return userId;
  });
}
