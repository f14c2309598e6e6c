import type pg from 'pg';
import type { KeyResolver } from '../crypto/chunked-gcm.ts';
import { reseal, sealedKeyId } from '../crypto/sealed.ts';
import type { SecretKey } from '../crypto/secret-key.ts';
import { HindsightError } from '../errors.ts';
import { withAdvisoryLock, withTransaction, type Queryable } from './db.ts';

/**
 * Every catalog column that holds a sealed secret, with the context its values are bound to (the
 * record's name, authenticated as associated data). The stores seal and open with these contexts,
 * and a key rotation re-seals exactly these columns: one list, so the two cannot drift.
 */
export const sealedContexts = {
  databasePassword: (name: string) => `database:${name}:password`,
  databaseBaseBackupUrl: (name: string) => `database:${name}:base_backup_url`,
  storageSecrets: (name: string) => `storage:${name}:secrets`,
  notifierSecrets: (name: string) => `notifier:${name}:secrets`,
  serverPassword: (name: string) => `server:${name}:password`,
  databaseRestoreDrillUrl: (name: string) => `database:${name}:restore_drill_url`,
  /** A user's TOTP secret; the record's name is the user's id. */
  userTotpSecret: (userId: string) => `user:${userId}:totp`,
  identityProviderSecret: (name: string) => `identity-provider:${name}:client_secret`,
  kmsSecrets: (name: string) => `kms:${name}:secrets`,
};

interface SealedColumn {
  table: string;
  column: string;
  context: (name: string) => string;
}

export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: 'databases', column: 'sealed_password', context: sealedContexts.databasePassword },
  { table: 'databases', column: 'sealed_base_backup_url', context: sealedContexts.databaseBaseBackupUrl },
  { table: 'storages', column: 'sealed_secrets', context: sealedContexts.storageSecrets },
  { table: 'notifiers', column: 'sealed_secrets', context: sealedContexts.notifierSecrets },
  { table: 'servers', column: 'sealed_password', context: sealedContexts.serverPassword },
  { table: 'databases', column: 'sealed_restore_drill_url', context: sealedContexts.databaseRestoreDrillUrl },
  { table: 'totp_factors', column: 'sealed_secret', context: sealedContexts.userTotpSecret },
  { table: 'identity_providers', column: 'sealed_client_secret', context: sealedContexts.identityProviderSecret },
  { table: 'kms_keys', column: 'sealed_secrets', context: sealedContexts.kmsSecrets },
];

const label = (c: SealedColumn) => `${c.table}.${c.column}`;

/**
 * A `sealed_*` column that this list does not know would keep its old key after a rotation and
 * become unreadable once that key is retired: the rotation refuses to start instead.
 */
export async function refuseUnknownSealedColumns(db: Queryable): Promise<void> {
  const { rows } = await db.query<{ t: string; c: string }>(
    `select table_name as t, column_name as c from information_schema.columns
      where table_schema = current_schema() and column_name like 'sealed\\_%'`,
  );
  const known = new Set(SEALED_COLUMNS.map(label));
  const unknown = rows.map((r) => `${r.t}.${r.c}`).filter((c) => !known.has(c));
  if (unknown.length > 0) {
    throw new HindsightError(
      'conflict',
      `the catalog has sealed columns ${unknown.join(', ')} that key rotation does not know: add them to SEALED_COLUMNS in lib/catalog/sealed-columns.ts before rotating`,
    );
  }
}

/**
 * Re-seals every catalog secret under `to`, in the caller's transaction. The tables are locked
 * against writers first, so no secret sealed meanwhile under the old key escapes the rotation.
 * Returns how many values each column held.
 */
export async function resealCatalogSecrets(
  client: Queryable,
  keys: KeyResolver,
  to: SecretKey,
): Promise<Record<string, number>> {
  await refuseUnknownSealedColumns(client);
  const tables = [...new Set(SEALED_COLUMNS.map((c) => c.table))];
  await client.query(`lock table ${tables.join(', ')} in share row exclusive mode`);
  const counts: Record<string, number> = {};
  for (const column of SEALED_COLUMNS) {
    const { rows } = await client.query<{ id: string; name: string; sealed: string }>(
      `select id::text as id, name, ${column.column} as sealed from ${column.table} where ${column.column} is not null
       order by id`,
    );
    for (const row of rows) {
      const value = reseal(keys, to, row.sealed, column.context(row.name));
      await client.query(`update ${column.table} set ${column.column} = $2 where id = $1`, [row.id, value]);
    }
    counts[label(column)] = rows.length;
  }
  return counts;
}

/** How many catalog secrets each key id seals: a key still counted here is still needed. */
export async function sealedSecretsByKey(db: Queryable): Promise<Map<string, number>> {
  const byKey = new Map<string, number>();
  for (const column of SEALED_COLUMNS) {
    const { rows } = await db.query<{ sealed: string }>(
      `select ${column.column} as sealed from ${column.table} where ${column.column} is not null`,
    );
    for (const { sealed } of rows) {
      const id = sealedKeyId(sealed) ?? '(malformed)';
      byKey.set(id, (byKey.get(id) ?? 0) + 1);
    }
  }
  return byKey;
}

/** Re-seals every catalog secret under `to` in one transaction of its own (see resealCatalogSecrets). */
export async function resealAllSecrets(
  pool: pg.Pool,
  keys: KeyResolver,
  to: SecretKey,
): Promise<Record<string, number>> {
  return withTransaction(pool, (tx) => resealCatalogSecrets(tx, keys, to));
}

/** Distinct from the migration lock (7355608): a rotation and a migration may wait for each other, not collide. */
const ROTATION_LOCK = 7355609;

/** Runs `work` while holding the key-rotation lock, so that two rotations never interleave. */
export async function withRotationLock<T>(pool: pg.Pool, work: () => Promise<T>): Promise<T> {
  return withAdvisoryLock(pool, ROTATION_LOCK, () => work());
}
