/**
 * Backups the catalog learns of from storage rather than from running them: those a database
 * added again takes back (`trigger = 'adopted'`), and the objects a removal deletes.
 */
import type pg from 'pg';
import type { BackupManifest } from '../backup/manifest.ts';
import { withTransaction, type Queryable } from './db.ts';
import { getDatabase } from './databases.ts';
import { storageIdsOf } from './storages.ts';

export const ADOPTED_TRIGGER = 'adopted';

/**
 * Records a backup found whole in `storageNames` as a complete backup of `database`. The object's
 * SHA-256 is left unrecorded: it would come from the manifest alone, and a recorded one lets a
 * restore accept an object of the old format that binds no identity. Without it, every restore
 * insists on the identity authenticated in the object's header. False when the id is already recorded.
 */
export async function adoptBackup(
  pool: pg.Pool,
  database: string,
  backup: { manifest: BackupManifest; storageNames: string[] },
): Promise<boolean> {
  const { manifest } = backup;
  const db = await getDatabase(pool, database);
  const storageIds = await storageIdsOf(pool, backup.storageNames);
  return withTransaction(pool, async (tx) => {
    if (!(await insertFoundBackup(tx, db.id, manifest, ADOPTED_TRIGGER, `${ADOPTED_TRIGGER}/${database}`)))
      return false;
    for (const storageId of storageIds) {
      await tx.query(
        `insert into backup_copies (backup_id, storage_id, status, size_bytes) values ($1, $2, 'complete', $3)`,
        [manifest.backupId, storageId, manifest.object.sizeBytes],
      );
    }
    return true;
  });
}

/**
 * Inserts a complete backup described by its manifest (with no object SHA-256, for the reason
 * `adoptBackup` gives); false when the id is already recorded. Shared by adoption and the catalog
 * rebuild (lib/catalog/rebuild/), which add the copies themselves.
 */
export async function insertFoundBackup(
  tx: Queryable,
  databaseId: number,
  manifest: BackupManifest,
  trigger: string,
  workflowId: string,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `insert into backups (id, database_id, workflow_id, status, trigger, started_at, finished_at, object_key,
                          size_bytes, dump_bytes, sha256, compression, server_version, tool_version, row_counts)
     values ($1, $2, $3, 'complete', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     on conflict (id) do nothing`,
    [
      manifest.backupId,
      databaseId,
      workflowId,
      trigger,
      manifest.startedAt,
      manifest.finishedAt,
      manifest.object.key,
      manifest.object.sizeBytes,
      manifest.dump.sizeBytes,
      manifest.dump.sha256,
      `${manifest.tool.compression.algorithm}:${manifest.tool.compression.level}`,
      manifest.source.serverVersion,
      manifest.tool.version,
      JSON.stringify(manifest.tables),
    ],
  );
  return Boolean(rowCount);
}

/** One backup of a database as a removal deletes it: its recorded key, and every storage meant to hold a copy. */
export interface StoredBackup {
  id: string;
  objectKey: string | null;
  status: string;
  storageNames: string[];
}

export async function storedBackupsOf(db: Queryable, database: string): Promise<StoredBackup[]> {
  const { rows } = await db.query<{ id: string; object_key: string | null; status: string; storages: string[] }>(
    `select b.id, b.object_key, b.status,
            array(select s.name from backup_copies c join storages s on s.id = c.storage_id
                   where c.backup_id = b.id order by s.name) as storages
       from backups b join databases d on d.id = b.database_id
      where d.name = $1 order by b.started_at`,
    [database],
  );
  return rows.map((r) => ({ id: r.id, objectKey: r.object_key, status: r.status, storageNames: r.storages }));
}
