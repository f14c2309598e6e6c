/**
 * Second factors in the catalog: a user's TOTP secret (sealed), recovery codes (hashed), passkeys,
 * the short-lived sign-in challenges, and the workspaces that require a second factor.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { seal, unseal } from '../crypto/sealed.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { bind, withTransaction, type Queryable, type SealingDb } from './db.ts';
import { sealedContexts } from './sealed-columns.ts';

export const sha256Hex = (value: string): string => createHash('sha256').update(value).digest('hex');

export type ChallengePurpose = 'second_factor' | 'passkey_sign_in' | 'passkey_register';

export interface ChallengeRecord {
  purpose: ChallengePurpose;
  userId: number | null;
  challenge: string | null;
}

export interface PasskeyRecord {
  id: number;
  userId: number;
  credentialId: string;
  publicKey: Uint8Array;
  signCount: number;
  transports: string[];
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

interface PasskeyRow {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: Buffer;
  sign_count: string;
  transports: string[];
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}

const toPasskey = (row: PasskeyRow): PasskeyRecord => ({
  id: Number(row.id),
  userId: Number(row.user_id),
  credentialId: row.credential_id,
  publicKey: new Uint8Array(row.public_key),
  signCount: Number(row.sign_count),
  transports: row.transports,
  name: row.name,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
});

/** Starts (or restarts) TOTP enrolment: an unconfirmed secret replaces any earlier unconfirmed one. */
async function saveTotpSecret(s: SealingDb, userId: number, secret: string): Promise<void> {
  const sealed = seal(s.keys.current(), secret, sealedContexts.userTotpSecret(String(userId)));
  await s.pool.query(
    `insert into totp_factors (user_id, sealed_secret) values ($1, $2)
     on conflict (user_id) do update set sealed_secret = excluded.sealed_secret, confirmed_at = null, last_step = 0
      where totp_factors.confirmed_at is null`,
    [userId, sealed],
  );
}

/** The user's TOTP secret and state, opened with the key it was sealed under. */
async function totpOf(
  s: SealingDb,
  userId: number,
): Promise<{ secret: string; confirmed: boolean; lastStep: number } | undefined> {
  const { rows } = await s.pool.query<{ sealed_secret: string; confirmed_at: Date | null; last_step: string }>(
    'select sealed_secret, confirmed_at, last_step from totp_factors where user_id = $1',
    [userId],
  );
  const row = rows[0];
  if (!row) return undefined;
  const secret = unseal(s.keys.resolve, row.sealed_secret, sealedContexts.userTotpSecret(String(userId)));
  return { secret, confirmed: row.confirmed_at !== null, lastStep: Number(row.last_step) };
}

/**
 * Records `step` as used, only when it is later than every step used before: true once per step,
 * so a code cannot be replayed even by two requests at the same moment. `confirm` also ends enrolment.
 */
async function acceptTotpStep(db: Queryable, userId: number, step: number, confirm: boolean): Promise<boolean> {
  const result = await db.query(
    `update totp_factors set last_step = $2, confirmed_at = case when $3 then coalesce(confirmed_at, now()) else confirmed_at end
      where user_id = $1 and last_step < $2 and (confirmed_at is not null or $3)`,
    [userId, step, confirm],
  );
  return result.rowCount === 1;
}

async function removeTotp(db: Queryable, userId: number): Promise<void> {
  await db.query('delete from totp_factors where user_id = $1', [userId]);
}

/** Replaces the user's recovery codes with these (their hashes only). */
async function replaceRecoveryCodes(pool: pg.Pool, userId: number, codeHashes: string[]): Promise<void> {
  await withTransaction(pool, async (tx) => {
    await tx.query('delete from recovery_codes where user_id = $1', [userId]);
    await tx.query('insert into recovery_codes (user_id, code_sha256) select $1, unnest($2::text[])', [
      userId,
      codeHashes,
    ]);
  });
}

/** Marks an unused code used: true once, false for an unknown or already used code. */
async function useRecoveryCode(db: Queryable, userId: number, codeHash: string): Promise<boolean> {
  const result = await db.query(
    'update recovery_codes set used_at = now() where user_id = $1 and code_sha256 = $2 and used_at is null',
    [userId, codeHash],
  );
  return result.rowCount === 1;
}

async function unusedRecoveryCodes(db: Queryable, userId: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'select count(*)::int as n from recovery_codes where user_id = $1 and used_at is null',
    [userId],
  );
  return rows[0]!.n;
}

async function addPasskey(
  db: Queryable,
  input: Omit<PasskeyRecord, 'id' | 'createdAt' | 'lastUsedAt'>,
): Promise<PasskeyRecord> {
  const { rows } = await db.query<PasskeyRow>(
    `insert into passkeys (user_id, credential_id, public_key, sign_count, transports, name)
     values ($1, $2, $3, $4, $5, $6) returning *`,
    [input.userId, input.credentialId, Buffer.from(input.publicKey), input.signCount, input.transports, input.name],
  );
  return toPasskey(rows[0]!);
}

async function passkeysOf(db: Queryable, userId: number): Promise<PasskeyRecord[]> {
  const { rows } = await db.query<PasskeyRow>('select * from passkeys where user_id = $1 order by id', [userId]);
  return rows.map(toPasskey);
}

async function passkeyByCredential(db: Queryable, credentialId: string): Promise<PasskeyRecord | undefined> {
  const { rows } = await db.query<PasskeyRow>('select * from passkeys where credential_id = $1', [credentialId]);
  return rows[0] ? toPasskey(rows[0]) : undefined;
}

async function passkeyUsed(db: Queryable, id: number, signCount: number): Promise<void> {
  await db.query('update passkeys set sign_count = $2, last_used_at = now() where id = $1', [id, signCount]);
}

/** Removes one of the user's passkeys; false when the user has none with this id. */
async function removePasskey(db: Queryable, userId: number, id: number): Promise<PasskeyRecord | undefined> {
  const { rows } = await db.query<PasskeyRow>('delete from passkeys where user_id = $1 and id = $2 returning *', [
    userId,
    id,
  ]);
  return rows[0] ? toPasskey(rows[0]) : undefined;
}

/** Removes TOTP, recovery codes and passkeys of the user; returns what there was. */
async function resetSecondFactors(
  pool: pg.Pool,
  userId: number,
): Promise<{ totp: boolean; recoveryCodes: number; passkeys: number }> {
  return withTransaction(pool, async (tx) => {
    const totp = await tx.query('delete from totp_factors where user_id = $1', [userId]);
    const codes = await tx.query('delete from recovery_codes where user_id = $1', [userId]);
    const keys = await tx.query('delete from passkeys where user_id = $1', [userId]);
    await tx.query('delete from auth_challenges where user_id = $1', [userId]);
    return { totp: (totp.rowCount ?? 0) > 0, recoveryCodes: codes.rowCount ?? 0, passkeys: keys.rowCount ?? 0 };
  });
}

/** What second factors the user has confirmed. */
async function factorsOf(db: Queryable, userId: number): Promise<{ totp: boolean; passkeys: number }> {
  const { rows } = await db.query<{ totp: boolean; passkeys: number }>(
    `select exists (select 1 from totp_factors where user_id = $1 and confirmed_at is not null) as totp,
            (select count(*)::int from passkeys where user_id = $1) as passkeys`,
    [userId],
  );
  return rows[0]!;
}

/** True when a workspace the user belongs to requires a second factor. */
async function secondFactorRequired(db: Queryable, userId: number): Promise<boolean> {
  const { rows } = await db.query<{ required: boolean }>(
    `select exists (select 1 from memberships m join workspaces w on w.id = m.workspace_id
                     where m.user_id = $1 and w.require_second_factor) as required`,
    [userId],
  );
  return rows[0]!.required;
}

async function setSecondFactorRequired(db: Queryable, workspaceId: number, required: boolean): Promise<boolean> {
  const { rows } = await db.query<{ before: boolean }>(
    `update workspaces w set require_second_factor = $2 from workspaces old
      where w.id = $1 and old.id = w.id returning old.require_second_factor as before`,
    [workspaceId, required],
  );
  return rows[0]?.before ?? false;
}

async function workspacesRequiringSecondFactor(db: Queryable): Promise<Array<{ id: number; name: string }>> {
  const { rows } = await db.query<{ id: string; name: string }>(
    'select id, name from workspaces where require_second_factor order by id',
  );
  return rows.map((r) => ({ id: Number(r.id), name: r.name }));
}

/** A challenge under a random token; only the token's hash is stored. */
async function createChallenge(
  db: Queryable,
  token: string,
  input: ChallengeRecord & { ttlMs: number },
): Promise<void> {
  await db.query(
    `insert into auth_challenges (token_sha256, purpose, user_id, challenge, expires_at)
     values ($1, $2, $3, $4, now() + $5 * interval '1 millisecond')`,
    [sha256Hex(token), input.purpose, input.userId, input.challenge, input.ttlMs],
  );
  // Expired ones go on each write: there are few, and nothing else reads them.
  await db.query('delete from auth_challenges where expires_at < now()');
}

async function readChallenge(
  db: Queryable,
  token: string,
  purpose: ChallengePurpose,
): Promise<ChallengeRecord | undefined> {
  const { rows } = await db.query<{ purpose: ChallengePurpose; user_id: string | null; challenge: string | null }>(
    'select purpose, user_id, challenge from auth_challenges where token_sha256 = $1 and purpose = $2 and expires_at > now()',
    [sha256Hex(token), purpose],
  );
  const row = rows[0];
  return row
    ? { purpose: row.purpose, userId: row.user_id === null ? null : Number(row.user_id), challenge: row.challenge }
    : undefined;
}

async function setChallenge(db: Queryable, token: string, challenge: string): Promise<void> {
  await db.query('update auth_challenges set challenge = $2 where token_sha256 = $1', [sha256Hex(token), challenge]);
}

/** Deletes the challenge and returns it, so that it serves once. */
async function takeChallenge(
  db: Queryable,
  token: string,
  purpose: ChallengePurpose,
): Promise<ChallengeRecord | undefined> {
  const { rows } = await db.query<{ purpose: ChallengePurpose; user_id: string | null; challenge: string | null }>(
    'delete from auth_challenges where token_sha256 = $1 and purpose = $2 and expires_at > now() returning *',
    [sha256Hex(token), purpose],
  );
  const row = rows[0];
  return row
    ? { purpose: row.purpose, userId: row.user_id === null ? null : Number(row.user_id), challenge: row.challenge }
    : undefined;
}

export function createSecondFactorStore(pool: pg.Pool, keys: Keyring) {
  return {
    ...bind({ pool, keys }, { saveTotpSecret, totpOf }),
    ...bind(pool, {
      acceptTotpStep,
      removeTotp,
      replaceRecoveryCodes,
      useRecoveryCode,
      unusedRecoveryCodes,
      addPasskey,
      passkeysOf,
      passkeyByCredential,
      passkeyUsed,
      removePasskey,
      resetSecondFactors,
      factorsOf,
      secondFactorRequired,
      setSecondFactorRequired,
      workspacesRequiringSecondFactor,
      createChallenge,
      readChallenge,
      setChallenge,
      takeChallenge,
    }),
  };
}

export type SecondFactorStore = ReturnType<typeof createSecondFactorStore>;
