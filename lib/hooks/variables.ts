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

export const hookVariables: readonly HookVariable[] = [
  {
    name: 'HINDSIGHT_HOOK_KIND',
    kinds: all,
    description: 'pre_backup, post_backup or post_restore',
    value: (c) => c.kind,
  },
  {
    name: 'HINDSIGHT_HOOK_SCOPE',
    kinds: all,
    description: 'workspace (a script for every database of the workspace) or database',
    value: (c) => c.scope,
  },
  {
    name: 'HINDSIGHT_WORKFLOW_ID',
    kinds: all,
    description: 'the Temporal workflow running the job, e.g. backup/shop/2026-11-23T03:00:00.000Z',
    value: (c) => c.workflowId,
  },
  {
    name: 'HINDSIGHT_DATABASE_NAME',
    kinds: all,
    description: "the database's name in Hindsight",
    value: (c) => c.database.name,
  },
  {
    name: 'HINDSIGHT_DATABASE_HOST',
    kinds: all,
    description: 'host of the backed-up server',
    value: (c) => c.database.host,
  },
  {
    name: 'HINDSIGHT_DATABASE_PORT',
    kinds: all,
    description: 'port of the backed-up server',
    value: (c) => String(c.database.port),
  },
  {
    name: 'HINDSIGHT_DATABASE_DBNAME',
    kinds: all,
    description: 'the PostgreSQL database name on that server',
    value: (c) => c.database.dbname,
  },
  {
    name: 'HINDSIGHT_DATABASE_USER',
    kinds: all,
    description: 'the role backups connect as (its password is never passed)',
    value: (c) => c.database.user,
  },
  {
    name: 'HINDSIGHT_BACKUP_ID',
    kinds: [...backups, 'post_restore'],
    description: "the backup's id (for post_restore: the backup that was restored)",
    value: (c) => c.backup?.id,
  },
  {
    name: 'HINDSIGHT_BACKUP_TRIGGER',
    kinds: backups,
    description: 'schedule, manual or demo',
    value: (c) => c.backup?.trigger,
  },
  {
    name: 'HINDSIGHT_STORAGES',
    kinds: [...backups, 'post_restore'],
    description: 'the storages the backup goes to, comma-separated, in order of preference',
    value: (c) => c.backup?.storages.join(','),
  },
  {
    name: 'HINDSIGHT_BACKUP_STATUS',
    kinds: afterBackup,
    description: 'complete, partial (some storages missed it) or failed',
    value: (c) => c.backup?.status,
  },
  {
    name: 'HINDSIGHT_BACKUP_ERROR',
    kinds: afterBackup,
    description: 'why the backup failed (empty when it did not)',
    value: (c) => c.backup?.error ?? undefined,
  },
  {
    name: 'HINDSIGHT_BACKUP_FILE',
    kinds: [...afterBackup, 'post_restore'],
    description:
      'the stored (encrypted) object in the first storage that holds it: a path for local storage, else a URL such as s3://bucket/key',
    value: (c) => c.backup?.locations?.[0]?.location,
  },
  {
    name: 'HINDSIGHT_BACKUP_FILES',
    kinds: [...afterBackup, 'post_restore'],
    description: 'every complete copy, one "storage=location" per line',
    value: (c) => c.backup?.locations?.map((l) => `${l.storage}=${l.location}`).join('\n'),
  },
  {
    name: 'HINDSIGHT_BACKUP_SIZE',
    kinds: [...afterBackup, 'post_restore'],
    description: 'size of the stored object in bytes',
    value: (c) => str(c.backup?.sizeBytes),
  },
  {
    name: 'HINDSIGHT_BACKUP_SHA256',
    kinds: [...afterBackup, 'post_restore'],
    description: 'SHA-256 of the stored object (what sha256sum of HINDSIGHT_BACKUP_FILE prints)',
    value: (c) => c.backup?.sha256 ?? undefined,
  },
  {
    name: 'HINDSIGHT_DUMP_SHA256',
    kinds: [...afterBackup, 'post_restore'],
    description: 'SHA-256 of the decrypted pg_dump archive (what hindsight decrypt writes)',
    value: (c) => c.backup?.dumpSha256 ?? undefined,
  },
  { name: 'HINDSIGHT_RESTORE_ID', kinds: restores, description: "the restore's id", value: (c) => c.restore?.id },
  {
    name: 'HINDSIGHT_RESTORE_TARGET',
    kinds: restores,
    description: 'where the backup was restored, postgres://user@host:port/db (never a password)',
    value: (c) => c.restore?.target,
  },
  {
    name: 'HINDSIGHT_RESTORE_HOST',
    kinds: restores,
    description: 'host of the restore target',
    value: (c) => c.restore?.host,
  },
  {
    name: 'HINDSIGHT_RESTORE_PORT',
    kinds: restores,
    description: 'port of the restore target',
    value: (c) => str(c.restore?.port),
  },
  {
    name: 'HINDSIGHT_RESTORE_DBNAME',
    kinds: restores,
    description: 'database name of the restore target',
    value: (c) => c.restore?.dbname,
  },
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
