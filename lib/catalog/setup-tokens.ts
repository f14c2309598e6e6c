/**
 * One-time tokens that authorize creating the first owner: without one, whoever reaches a fresh
 * console first (a neighbour on the network, a page rebinding its DNS to localhost) would own it.
 * Only each token's SHA-256 is kept; creating the owner consumes the token and deletes the rest in
 * the same transaction.
 */
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { HindsightError } from '../errors.ts';
import { withTransaction, type Queryable } from './db.ts';
import { createFirstOwnerIn, type NewUser, type UserRecord } from './users.ts';

const hashOf = (token: string): string => createHash('sha256').update(token).digest('hex');

/** A new token, valid for `ttlMs`; tokens issued earlier stay valid (the console and `npm start` each print one). */
export async function issueSetupToken(db: Queryable, ttlMs: number): Promise<string> {
  const token = randomBytes(24).toString('base64url');
  await db.query(
    `insert into setup_tokens (token_sha256, expires_at) values ($1, now() + $2 * interval '1 millisecond')`,
    [hashOf(token), ttlMs],
  );
  return token;
}

/** Creates the first owner if `token` is a live setup token, which it uses up. */
export async function createFirstOwnerWithToken(
  pool: pg.Pool,
  input: Omit<NewUser, 'instanceOwner'>,
  token: string,
): Promise<UserRecord> {
  return withTransaction(pool, async (tx) => {
    // The row lock makes a token single-use: a second request with it waits here, then finds nothing.
    const used = await tx.query('delete from setup_tokens where token_sha256 = $1 and expires_at > now()', [
      hashOf(token),
    ]);
    if (!used.rowCount)
      throw new HindsightError(
        'forbidden',
        'the setup token is wrong, used or expired: use the one the console printed when it started (restart the console for a new one)',
      );
    const user = await createFirstOwnerIn(tx, input);
    await tx.query('delete from setup_tokens');
    return user;
  });
}
