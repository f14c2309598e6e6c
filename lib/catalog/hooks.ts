import type pg from 'pg';
import { HindsightError } from '../errors.ts';
import type { HookKind } from '../hooks/variables.ts';

export type HookScope = 'workspace' | 'database';
export type HookRunStatus = 'ok' | 'warning' | 'failed';

export interface HookRecord {
  id: number;
  scope: HookScope;
  workspaceId: number;
  /** The database's name for a database hook; null for a workspace hook. */
  databaseName: string | null;
  kind: HookKind;
  script: string;
  timeoutSeconds: number;
  updatedAt: Date;
  updatedBy: string | null;
}

export interface HookRunRecord {
  id: number;
  hookId: number | null;
  databaseName: string | null;
  scope: HookScope;
  kind: HookKind;
  workflowId: string;
  backupId: string | null;
  restoreId: string | null;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  outputTail: string;
  outputTruncated: boolean;
  status: HookRunStatus;
  startedAt: Date;
  finishedAt: Date;
}

/** A problem that left a backup or restore usable, e.g. a post hook that failed. */
export interface JobWarning {
  source: string;
  message: string;
  at: string;
}

/**
 * Until databases belong to workspaces every database is in workspace 1; reading the column
 * through to_jsonb keeps this query right before and after that column exists.
 */
const workspaceOfDatabase = `coalesce((to_jsonb(d) ->> 'workspace_id')::bigint, 1)`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toHook(row: any): HookRecord {
  return {
    id: Number(row.id),
    scope: row.database_id === null ? 'workspace' : 'database',
    workspaceId: Number(row.workspace_id),
    databaseName: row.database_name ?? null,
    kind: row.kind,
    script: row.script,
    timeoutSeconds: row.timeout_seconds,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function toRun(row: any): HookRunRecord {
  return {
    id: Number(row.id),
    hookId: row.hook_id === null ? null : Number(row.hook_id),
    databaseName: row.database_name ?? null,
    scope: row.scope,
    kind: row.kind,
    workflowId: row.workflow_id,
    backupId: row.backup_id,
    restoreId: row.restore_id,
    exitCode: row.exit_code,
    signal: row.signal,
    timedOut: row.timed_out,
    durationMs: row.duration_ms,
    outputTail: row.output_tail,
    outputTruncated: row.output_truncated,
    status: row.status,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** Hook scripts, their runs, and the warnings they leave on backups and restores. */
export function createHookStore(pool: pg.Pool) {
  async function databaseId(name: string): Promise<number> {
    const { rows } = await pool.query('select id from databases where name = $1', [name]);
    if (!rows[0]) throw new HindsightError('not_found', `database "${name}" is not registered (hindsight db list shows the registered ones)`);
    return Number(rows[0].id);
  }

  const store = {
    /** Creates or replaces the script of one kind for a database or a whole workspace. */
    async upsert(input: { database: string | null; workspaceId: number; kind: HookKind; script: string; timeoutSeconds: number; updatedBy: string | null }): Promise<HookRecord> {
      const dbId = input.database === null ? null : await databaseId(input.database);
      const conflict = dbId === null
        ? 'on conflict (workspace_id, kind) where database_id is null'
        : 'on conflict (database_id, kind) where database_id is not null';
      const { rows } = await pool.query(
        `insert into hooks (workspace_id, database_id, kind, script, timeout_seconds, updated_by) values ($1, $2, $3, $4, $5, $6)
         ${conflict} do update set script = excluded.script, timeout_seconds = excluded.timeout_seconds,
           updated_at = now(), updated_by = excluded.updated_by
         returning id`,
        [input.workspaceId, dbId, input.kind, input.script, input.timeoutSeconds, input.updatedBy],
      );
      return (await store.byId(Number(rows[0].id)))!;
    },

    async byId(id: number): Promise<HookRecord | undefined> {
      const { rows } = await pool.query('select h.*, d.name as database_name from hooks h left join databases d on d.id = h.database_id where h.id = $1', [id]);
      return rows[0] ? toHook(rows[0]) : undefined;
    },

    /** Removes a script; returns whether there was one. */
    async remove(input: { database: string | null; workspaceId: number; kind: HookKind }): Promise<boolean> {
      const result = input.database === null
        ? await pool.query('delete from hooks where database_id is null and workspace_id = $1 and kind = $2', [input.workspaceId, input.kind])
        : await pool.query('delete from hooks where database_id = $1 and kind = $2', [await databaseId(input.database), input.kind]);
      return (result.rowCount ?? 0) > 0;
    },

    /**
     * The scripts that run for a database, in running order: the workspace's before the
     * database's own, then by kind. `kind` narrows to one kind.
     */
    async forDatabase(database: string, kind?: HookKind): Promise<HookRecord[]> {
      const { rows } = await pool.query(
        `select h.*, hd.name as database_name from databases d
           join hooks h on (h.database_id = d.id) or (h.database_id is null and h.workspace_id = ${workspaceOfDatabase})
           left join databases hd on hd.id = h.database_id
         where d.name = $1 and ($2::text is null or h.kind = $2)
         order by h.kind, (h.database_id is not null), h.id`,
        [database, kind ?? null],
      );
      if (rows.length === 0) await databaseId(database);
      return rows.map(toHook);
    },

    async forWorkspace(workspaceId: number): Promise<HookRecord[]> {
      const { rows } = await pool.query('select h.*, null as database_name from hooks h where h.database_id is null and h.workspace_id = $1 order by h.kind', [workspaceId]);
      return rows.map(toHook);
    },

    async recordRun(run: Omit<HookRunRecord, 'id' | 'finishedAt' | 'databaseName'> & { database: string }): Promise<number> {
      const { rows } = await pool.query(
        `insert into hook_runs (hook_id, database_id, scope, kind, workflow_id, backup_id, restore_id, exit_code, signal, timed_out,
                                duration_ms, output_tail, output_truncated, status, started_at)
         values ($1, (select id from databases where name = $2), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         returning id`,
        [run.hookId, run.database, run.scope, run.kind, run.workflowId, run.backupId, run.restoreId, run.exitCode, run.signal,
          run.timedOut, run.durationMs, run.outputTail, run.outputTruncated, run.status, run.startedAt],
      );
      return Number(rows[0].id);
    },

    async runs(database: string, options: { limit?: number; backupId?: string; restoreId?: string } = {}): Promise<HookRunRecord[]> {
      await databaseId(database);
      const { rows } = await pool.query(
        `select r.*, d.name as database_name from hook_runs r join databases d on d.id = r.database_id
         where d.name = $1 and ($2::text is null or r.backup_id = $2) and ($3::text is null or r.restore_id = $3)
         order by r.started_at desc, r.id desc limit $4`,
        [database, options.backupId ?? null, options.restoreId ?? null, options.limit ?? 50],
      );
      return rows.map(toRun);
    },

    async addBackupWarning(backupId: string, warning: JobWarning): Promise<void> {
      await pool.query(`update backups set warnings = warnings || $2::jsonb where id = $1`, [backupId, JSON.stringify([warning])]);
    },

    async addRestoreWarning(restoreId: string, warning: JobWarning): Promise<void> {
      await pool.query(`update restores set warnings = warnings || $2::jsonb where id = $1`, [restoreId, JSON.stringify([warning])]);
    },

    async restoreWarnings(restoreId: string): Promise<JobWarning[]> {
      const { rows } = await pool.query('select warnings from restores where id = $1', [restoreId]);
      return rows[0]?.warnings ?? [];
    },

    /** What a post_restore hook is told about its restore. */
    async restoreFacts(restoreId: string): Promise<{ backupId: string; target: string } | undefined> {
      const { rows } = await pool.query('select backup_id, target from restores where id = $1', [restoreId]);
      return rows[0] ? { backupId: rows[0].backup_id, target: rows[0].target } : undefined;
    },
  };
  return store;
}

export type HookStore = ReturnType<typeof createHookStore>;
