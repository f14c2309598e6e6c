import type { RowCountMismatch } from '../pg/row-counts.ts';
import type { Queryable } from './db.ts';
import type { JobWarning } from './warnings.ts';

export type RestoreStatus = 'running' | 'verified' | 'failed';

export interface RestoreSummary {
  id: string;
  status: RestoreStatus;
  target: string;
  finishedAt: Date | null;
  tablesChecked: number | null;
  rowsChecked: number | null;
  error: string | null;
}

export interface RestoreOutcome {
  status: 'verified' | 'failed';
  tablesChecked?: number;
  rowsChecked?: number;
  mismatches?: RowCountMismatch[];
  error?: string;
}

export async function beginRestore(
  db: Queryable,
  input: { id: string; backupId: string; workflowId: string; target: string },
): Promise<void> {
  await db.query(
    `insert into restores (id, backup_id, workflow_id, target, status) values ($1, $2, $3, $4, 'running')
     on conflict (id) do update set status = 'running', error = null, finished_at = null`,
    [input.id, input.backupId, input.workflowId, input.target],
  );
}

export async function recordRestoreSource(db: Queryable, id: string, storageName: string): Promise<void> {
  await db.query('update restores set storage_name = $2 where id = $1', [id, storageName]);
}

export async function endRestore(db: Queryable, id: string, result: RestoreOutcome): Promise<void> {
  await db.query(
    `update restores set status = $2, finished_at = now(), tables_checked = $3, rows_checked = $4, mismatches = $5, error = $6 where id = $1`,
    [
      id,
      result.status,
      result.tablesChecked ?? null,
      result.rowsChecked ?? null,
      result.mismatches ? JSON.stringify(result.mismatches) : null,
      result.error ?? null,
    ],
  );
}

/** Backups that a running restore reads: retention must leave them alone. */
export async function backupsBeingRestored(db: Queryable, databaseName: string): Promise<Set<string>> {
  const { rows } = await db.query<{ backup_id: string }>(
    `select r.backup_id from restores r join backups b on b.id = r.backup_id join databases d on d.id = b.database_id
     where d.name = $1 and r.status = 'running'`,
    [databaseName],
  );
  return new Set(rows.map((r) => r.backup_id));
}

export async function addRestoreWarning(db: Queryable, restoreId: string, warning: JobWarning): Promise<void> {
  const warnings = JSON.stringify([warning]);
  await db.query(`update restores set warnings = warnings || $2::jsonb where id = $1`, [restoreId, warnings]);
}

export async function restoreWarnings(db: Queryable, restoreId: string): Promise<JobWarning[]> {
  const { rows } = await db.query<{ warnings: JobWarning[] | null }>('select warnings from restores where id = $1', [
    restoreId,
  ]);
  return rows[0]?.warnings ?? [];
}

/** What a post_restore hook is told about its restore. */
export async function restoreFacts(
  db: Queryable,
  restoreId: string,
): Promise<{ backupId: string; target: string } | undefined> {
  const { rows } = await db.query<{ backupId: string; target: string }>(
    'select backup_id as "backupId", target from restores where id = $1',
    [restoreId],
  );
  return rows[0];
}
