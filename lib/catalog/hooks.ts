import type { HookKind } from '../hooks/variables.ts';
import { allRows, bind, databaseIdOf, firstRow, type Queryable } from './db.ts';
import { addBackupWarning } from './backups.ts';
import { addRestoreWarning, restoreFacts, restoreWarnings } from './restores.ts';

export type { JobWarning } from './warnings.ts';
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

export type NewHookRun = Omit<HookRunRecord, 'id' | 'finishedAt' | 'databaseName'> & { database: string };

interface HookRow {
  id: string;
  database_id: string | null;
  workspace_id: string;
  database_name: string | null;
  kind: HookKind;
  script: string;
  timeout_seconds: number;
  updated_at: Date;
  updated_by: string | null;
}

interface HookRunRow {
  id: string;
  hook_id: string | null;
  database_name: string | null;
  scope: HookScope;
  kind: HookKind;
  workflow_id: string;
  backup_id: string | null;
  restore_id: string | null;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  duration_ms: number;
  output_tail: string;
  output_truncated: boolean;
  status: HookRunStatus;
  started_at: Date;
  finished_at: Date;
}

/**
 * Until databases belong to workspaces every database is in workspace 1; reading the column
 * through to_jsonb keeps this query right before and after that column exists.
 */
const workspaceOfDatabase = `coalesce((to_jsonb(d) ->> 'workspace_id')::bigint, 1)`;

function toHook(row: HookRow): HookRecord {
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

function toRun(row: HookRunRow): HookRunRecord {
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

/** Creates or replaces the script of one kind for a database or a whole workspace. */
async function upsert(
  db: Queryable,
  input: {
    database: string | null;
    workspaceId: number;
    kind: HookKind;
    script: string;
    timeoutSeconds: number;
    updatedBy: string | null;
  },
): Promise<HookRecord> {
  const dbId = input.database === null ? null : await databaseIdOf(db, input.database);
  const conflict =
    dbId === null
      ? 'on conflict (workspace_id, kind) where database_id is null'
      : 'on conflict (database_id, kind) where database_id is not null';
  const { rows } = await db.query<{ id: string }>(
    `insert into hooks (workspace_id, database_id, kind, script, timeout_seconds, updated_by)
     values ($1, $2, $3, $4, $5, $6)
     ${conflict} do update set script = excluded.script, timeout_seconds = excluded.timeout_seconds,
       updated_at = now(), updated_by = excluded.updated_by
     returning id`,
    [input.workspaceId, dbId, input.kind, input.script, input.timeoutSeconds, input.updatedBy],
  );
  return (await byId(db, Number(rows[0]!.id)))!;
}

async function byId(db: Queryable, id: number): Promise<HookRecord | undefined> {
  return firstRow(
    db,
    'select h.*, d.name as database_name from hooks h left join databases d on d.id = h.database_id where h.id = $1',
    [id],
    toHook,
  );
}

/** Removes a script; returns whether there was one. */
async function remove(
  db: Queryable,
  input: { database: string | null; workspaceId: number; kind: HookKind },
): Promise<boolean> {
  const result =
    input.database === null
      ? await db.query('delete from hooks where database_id is null and workspace_id = $1 and kind = $2', [
          input.workspaceId,
          input.kind,
        ])
      : await db.query('delete from hooks where database_id = $1 and kind = $2', [
          await databaseIdOf(db, input.database),
          input.kind,
        ]);
  return (result.rowCount ?? 0) > 0;
}

/**
 * The scripts that run for a database, in running order: the workspace's before the
 * database's own, then by kind. `kind` narrows to one kind.
 */
async function forDatabase(db: Queryable, database: string, kind?: HookKind): Promise<HookRecord[]> {
  const { rows } = await db.query<HookRow>(
    `select h.*, hd.name as database_name from databases d
       join hooks h on (h.database_id = d.id) or (h.database_id is null and h.workspace_id = ${workspaceOfDatabase})
       left join databases hd on hd.id = h.database_id
     where d.name = $1 and ($2::text is null or h.kind = $2)
     order by h.kind, (h.database_id is not null), h.id`,
    [database, kind ?? null],
  );
  if (rows.length === 0) await databaseIdOf(db, database);
  return rows.map(toHook);
}

async function forWorkspace(db: Queryable, workspaceId: number): Promise<HookRecord[]> {
  return allRows(
    db,
    'select h.*, null as database_name from hooks h where h.database_id is null and h.workspace_id = $1 order by h.kind',
    [workspaceId],
    toHook,
  );
}

async function recordRun(db: Queryable, run: NewHookRun): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `insert into hook_runs (hook_id, database_id, scope, kind, workflow_id, backup_id, restore_id, exit_code, signal, timed_out,
                            duration_ms, output_tail, output_truncated, status, started_at)
     values ($1, (select id from databases where name = $2), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
     returning id`,
    [
      run.hookId,
      run.database,
      run.scope,
      run.kind,
      run.workflowId,
      run.backupId,
      run.restoreId,
      run.exitCode,
      run.signal,
      run.timedOut,
      run.durationMs,
      run.outputTail,
      run.outputTruncated,
      run.status,
      run.startedAt,
    ],
  );
  return Number(rows[0]!.id);
}

async function runs(
  db: Queryable,
  database: string,
  options: { limit?: number; backupId?: string; restoreId?: string } = {},
): Promise<HookRunRecord[]> {
  await databaseIdOf(db, database);
  return allRows(
    db,
    `select r.*, d.name as database_name from hook_runs r join databases d on d.id = r.database_id
     where d.name = $1 and ($2::text is null or r.backup_id = $2) and ($3::text is null or r.restore_id = $3)
     order by r.started_at desc, r.id desc limit $4`,
    [database, options.backupId ?? null, options.restoreId ?? null, options.limit ?? 50],
    toRun,
  );
}

/** Hook scripts, their runs, and the warnings they leave on backups and restores. */
export function createHookStore(db: Queryable) {
  return bind(db, {
    upsert,
    byId,
    remove,
    forDatabase,
    forWorkspace,
    recordRun,
    runs,
    addBackupWarning,
    addRestoreWarning,
    restoreWarnings,
    restoreFacts,
  });
}

export type HookStore = ReturnType<typeof createHookStore>;
