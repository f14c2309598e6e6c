import type pg from 'pg';
import type { Keyring } from '../crypto/keyring.ts';
import { openKmsConfig, sealKmsConfig, type KmsConfig } from '../crypto/wrap/kms/config.ts';
import { HindsightError } from '../errors.ts';
import { allRows, bind, withTransaction, type Queryable, type SealingDb } from './db.ts';
import { sealedContexts } from './sealed-columns.ts';

/**
 * Named KMS keys (KMS mode): what `hindsight key kms list` shows, without secrets. `keyRef` is the
 * name object headers give the key (an AWS key's ARN, a Vault transit key's name).
 */
export interface KmsKeyRecord {
  name: string;
  provider: KmsConfig['provider'];
  keyRef: string;
  settings: Record<string, unknown>;
  hasSecrets: boolean;
  /** The databases in KMS mode under this key. */
  databases: string[];
  createdAt: Date;
}

interface KmsKeyRow {
  name: string;
  provider: KmsConfig['provider'];
  key_ref: string;
  settings: Record<string, unknown>;
  sealed_secrets: string | null;
  databases: string[];
  created_at: Date;
}

const SELECT = `select k.*, coalesce(array_agg(d.name order by d.name) filter (where d.name is not null), '{}') as databases
  from kms_keys k left join databases d on d.encryption_kms = k.name`;

function toKmsKey(row: KmsKeyRow): KmsKeyRecord {
  return {
    name: row.name,
    provider: row.provider,
    keyRef: row.key_ref,
    settings: row.settings,
    hasSecrets: row.sealed_secrets !== null,
    databases: row.databases,
    createdAt: row.created_at,
  };
}

const missing = (name: string) =>
  new HindsightError('not_found', `KMS key "${name}" does not exist (hindsight key kms list shows the named ones)`);

export async function listKmsKeys(db: Queryable): Promise<KmsKeyRecord[]> {
  return allRows(db, `${SELECT} group by k.id order by k.name`, [], toKmsKey);
}

export async function getKmsKey(db: Queryable, name: string): Promise<KmsKeyRecord> {
  const { rows } = await db.query<KmsKeyRow>(`${SELECT} where k.name = $1 group by k.id`, [name]);
  if (!rows[0]) throw missing(name);
  return toKmsKey(rows[0]);
}

/** Saves a new named key; `keyRef` is what its wraps name in headers (checked by the caller with a test wrap). */
export async function addKmsKey(s: SealingDb, name: string, config: KmsConfig, keyRef: string): Promise<void> {
  const { settings, sealed } = sealKmsConfig(s.keys, config, sealedContexts.kmsSecrets(name));
  try {
    await s.pool.query(
      'insert into kms_keys (name, provider, key_ref, settings, sealed_secrets) values ($1, $2, $3, $4, $5)',
      [name, config.provider, keyRef, JSON.stringify(settings), sealed],
    );
  } catch (error) {
    if ((error as { code?: string }).code === '23505')
      throw new HindsightError('conflict', `KMS key "${name}" already exists: choose another name, or remove it first`);
    throw error;
  }
}

/** The full configuration of every named key, secrets opened: for the process that wraps and unwraps only. */
export async function kmsKeyConfigs(s: SealingDb): Promise<Array<{ name: string; keyRef: string; config: KmsConfig }>> {
  const { rows } = await s.pool.query<KmsKeyRow>('select *, array[]::text[] as databases from kms_keys order by name');
  return rows.map((row) => ({
    name: row.name,
    keyRef: row.key_ref,
    config: openKmsConfig(
      s.keys,
      { settings: row.settings, sealed: row.sealed_secrets, context: sealedContexts.kmsSecrets(row.name) },
      row.name,
    ),
  }));
}

/** Removes a named key no database uses; what it wrapped stays readable with the KMS key's own config. */
export async function removeKmsKey(pool: pg.Pool, name: string): Promise<void> {
  await withTransaction(pool, async (tx) => {
    const key = await getKmsKey(tx, name);
    if (key.databases.length > 0) {
      throw new HindsightError(
        'conflict',
        `KMS key "${name}" is in use by database(s) ${key.databases.join(', ')}: move them to another encryption first (hindsight db update <name> --encryption …)`,
      );
    }
    const { rows } = await tx.query<{ name: string }>(
      'select name from workspaces where encryption_kms = $1 order by name',
      [name],
    );
    if (rows.length > 0)
      throw new HindsightError(
        'conflict',
        `KMS key "${name}" is the default encryption of workspace(s) ${rows.map((r) => r.name).join(', ')}: give them another first (hindsight workspace update <name> --encryption …)`,
      );
    await tx.query('delete from kms_keys where name = $1', [name]);
  });
}

export function createKmsKeyStore(pool: pg.Pool, keys: Keyring) {
  return {
    ...bind({ pool, keys }, { add: addKmsKey, configs: kmsKeyConfigs }),
    ...bind(pool, { list: listKmsKeys, get: getKmsKey, remove: removeKmsKey }),
  };
}

export type KmsKeyStore = ReturnType<typeof createKmsKeyStore>;
