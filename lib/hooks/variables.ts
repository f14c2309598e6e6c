/**
 * The environment a hook script receives. This one list builds the environment and renders the
 * reference shown next to the editor in the console and by `hindsight hook show`, so the two never
 * drift apart. Nothing here is a secret: passwords, keys and tokens are never passed to a script.
 * Pure data, no Node APIs: the console bundles it.
 */
export const hookKinds = ['pre_backup', 'post_backup', 'post_restore'] as const;
export type HookKind = (typeof hookKinds)[number];

export const hookKindDescriptions: Record<HookKind, string> = {
  pre_backup:
    "runs before the backup connects to the database; a non-zero exit cancels the backup with the script's output as the reason",
  post_backup:
    'runs after the backup is settled (complete, partial or failed); a non-zero exit is recorded as a warning on the backup',
  post_restore: 'runs after a successful restore; a non-zero exit is recorded as a warning on the restore',
};

export interface HookContext {
  kind: HookKind;
  scope: 'workspace' | 'database';
  workflowId: string;
  database: { name: string; host: string; port: number; dbname: string; user: string };
  backup?:
    | {
        id: string;
        trigger?: string | undefined;
        status?: string | undefined;
        error?: string | null | undefined;
        sizeBytes?: number | null | undefined;
        sha256?: string | null | undefined;
        dumpSha256?: string | null | undefined;
        /** Where each complete copy is, by storage name, in the database's storage order. */
        locations?: Array<{ storage: string; location: string }> | undefined;
        storages: string[];
      }
    | undefined;
  restore?:
    | { id: string; target: string; host?: string | undefined; port?: number | undefined; dbname?: string | undefined }
    | undefined;
}

export interface HookVariable {
  name: string;
  description: string;
  /** The hook kinds that receive it. */
  kinds: readonly HookKind[];
  value(context: HookContext): string | undefined;
}

const all = hookKinds;
const backups = ['pre_backup', 'post_backup'] as const;
const afterBackup = ['post_backup'] as const;
const restores = ['post_restore'] as const;
const str = (v: string | number | null | undefined): string | undefined =>
  v === null || v === undefined ? undefined : String(v);

/** One variable: its name, the kinds that receive it, what it holds, and how it is read from the context. */
const variable = (
  name: string,
  kinds: readonly HookKind[],
  description: string,
  value: (context: HookContext) => string | undefined,
): HookVariable => ({ name, kinds, description, value });

export const hookVariables: readonly HookVariable[] = [
  variable('HINDSIGHT_HOOK_KIND', all, 'pre_backup, post_backup or post_restore', (c) => c.kind),
  variable(
    'HINDSIGHT_HOOK_SCOPE',
    all,
    'workspace (a script for every database of the workspace) or database',
    (c) => c.scope,
  ),
  variable(
    'HINDSIGHT_WORKFLOW_ID',
    all,
    'the Temporal workflow running the job, e.g. backup/shop/2026-11-23T03:00:00.000Z',
    (c) => c.workflowId,
  ),
  variable('HINDSIGHT_DATABASE_NAME', all, "the database's name in Hindsight", (c) => c.database.name),
  variable('HINDSIGHT_DATABASE_HOST', all, 'host of the backed-up server', (c) => c.database.host),
  variable('HINDSIGHT_DATABASE_PORT', all, 'port of the backed-up server', (c) => String(c.database.port)),
  variable('HINDSIGHT_DATABASE_DBNAME', all, 'the PostgreSQL database name on that server', (c) => c.database.dbname),
  variable(
    'HINDSIGHT_DATABASE_USER',
    all,
    'the role backups connect as (its password is never passed)',
    (c) => c.database.user,
  ),
  variable(
    'HINDSIGHT_BACKUP_ID',
    [...backups, 'post_restore'],
    "the backup's id (for post_restore: the backup that was restored)",
    (c) => c.backup?.id,
  ),
  variable('HINDSIGHT_BACKUP_TRIGGER', backups, 'schedule, manual or demo', (c) => c.backup?.trigger),
  variable(
    'HINDSIGHT_STORAGES',
    [...backups, 'post_restore'],
    'the storages the backup goes to, comma-separated, in order of preference',
    (c) => c.backup?.storages.join(','),
  ),
  variable(
    'HINDSIGHT_BACKUP_STATUS',
    afterBackup,
    'complete, partial (some storages missed it) or failed',
    (c) => c.backup?.status,
  ),
  variable('HINDSIGHT_BACKUP_ERROR', afterBackup, 'why the backup failed (empty when it did not)', (c) =>
    str(c.backup?.error),
  ),
  variable(
    'HINDSIGHT_BACKUP_FILE',
    [...afterBackup, 'post_restore'],
    'the stored (encrypted) object in the first storage that holds it: a path for local storage, else a URL such as s3://bucket/key',
    (c) => c.backup?.locations?.[0]?.location,
  ),
  variable(
    'HINDSIGHT_BACKUP_FILES',
    [...afterBackup, 'post_restore'],
    'every complete copy, one "storage=location" per line',
    (c) => c.backup?.locations?.map((l) => `${l.storage}=${l.location}`).join('\n'),
  ),
  variable('HINDSIGHT_BACKUP_SIZE', [...afterBackup, 'post_restore'], 'size of the stored object in bytes', (c) =>
    str(c.backup?.sizeBytes),
  ),
  variable(
    'HINDSIGHT_BACKUP_SHA256',
    [...afterBackup, 'post_restore'],
    'SHA-256 of the stored object (what sha256sum of HINDSIGHT_BACKUP_FILE prints)',
    (c) => str(c.backup?.sha256),
  ),
  variable(
    'HINDSIGHT_DUMP_SHA256',
    [...afterBackup, 'post_restore'],
    'SHA-256 of the decrypted pg_dump archive (what hindsight decrypt writes)',
    (c) => str(c.backup?.dumpSha256),
  ),
  variable('HINDSIGHT_RESTORE_ID', restores, "the restore's id", (c) => c.restore?.id),
  variable(
    'HINDSIGHT_RESTORE_TARGET',
    restores,
    'where the backup was restored, postgres://user@host:port/db (never a password)',
    (c) => c.restore?.target,
  ),
  variable('HINDSIGHT_RESTORE_HOST', restores, 'host of the restore target', (c) => c.restore?.host),
  variable('HINDSIGHT_RESTORE_PORT', restores, 'port of the restore target', (c) => str(c.restore?.port)),
  variable('HINDSIGHT_RESTORE_DBNAME', restores, 'database name of the restore target', (c) => c.restore?.dbname),
];

/** Variables that every script gets regardless of the job, so that ordinary tools work. */
export const baseEnvironment: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
};

/**
 * The whole environment of one hook run: the base variables and the job's context. Nothing is
 * inherited from the worker, whose environment holds Hindsight's own secrets.
 */
export function hookEnvironment(context: HookContext, extra: { home: string; tmpdir: string }): Record<string, string> {
  const env: Record<string, string> = { ...baseEnvironment, HOME: extra.home, TMPDIR: extra.tmpdir };
  for (const variable of hookVariables) {
    if (!variable.kinds.includes(context.kind)) continue;
    const value = variable.value(context);
    if (value !== undefined) env[variable.name] = value;
  }
  return env;
}

/** The reference for people: name, description and which kinds receive it. */
export function describeHookVariables(
  kind?: HookKind,
): Array<{ name: string; description: string; kinds: HookKind[] }> {
  return hookVariables
    .filter((v) => !kind || v.kinds.includes(kind))
    .map((v) => ({ name: v.name, description: v.description, kinds: [...v.kinds] }));
}
