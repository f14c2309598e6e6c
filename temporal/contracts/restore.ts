import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { PROGRESS_SIGNAL, backupIdSchema, defineWorkflow } from './common.ts';
import { NAME_SOURCE, databaseNameSchema } from '../../lib/names.ts';
import type { OwnershipReport } from '../../lib/backup/roles-restore.ts';

/**
 * `restoreBackup`: a logical backup restored into an empty database and proved by row counts.
 * Its id, `restore/<db>/<iso-time>`, is shared with point-in-time restores (contracts/pitr.ts):
 * a database's restores list together whichever kind they are.
 */
const pgIdentifier = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[A-Za-z_][A-Za-z0-9_$-]*$/, 'must be a plain database name (letters, digits, _ $ -)');

/**
 * PostgreSQL's own databases are never restore targets: objects loaded into template1 (or
 * template0) are copied into every database created later, and `postgres` is the maintenance
 * database tools and people connect to first. A dump is hostile content.
 */
const SYSTEM_DATABASES = ['template0', 'template1', 'postgres'];
const systemDatabaseMessage = (what: string) =>
  `${what} is one of PostgreSQL's own databases (${SYSTEM_DATABASES.join(', ')}): restore into a new database instead`;
/** The database a URL names; an empty path means `postgres` (lib/pg/connection.ts parsePgUrl). */
const urlDatabase = (u: string) =>
  URL.canParse(u) ? decodeURIComponent(new URL(u).pathname.replace(/^\//, '')) || 'postgres' : '';

export const restoreTargetSchema = z.union(
  [
    z
      .object({
        database: pgIdentifier.refine((d) => !SYSTEM_DATABASES.includes(d), {
          error: (issue) => systemDatabaseMessage(`to.database "${String(issue.input)}"`),
        }),
      })
      .strict()
      .describe('a new database on the source server'),
    z
      .object({
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'to.url must start with postgres://')
          .refine((u) => URL.canParse(u), 'to.url is not a valid URL')
          .refine((u) => !SYSTEM_DATABASES.includes(urlDatabase(u)), {
            error: (issue) => systemDatabaseMessage(`the database "${urlDatabase(String(issue.input))}" of to.url`),
          })
          .refine(
            (u) => !URL.canParse(u) || new URL(u).password === '',
            'to.url must not contain a password: workflow inputs are stored in history; pass it as to.sealedPassword (the hindsight CLI does this) or use a .pgpass file on the worker',
          ),
        sealedPassword: z.string().startsWith('v1.').optional(),
      })
      .strict(),
  ],
  { error: 'to must be {"database": "<new name>"} or {"url": "postgres://user@host:port/db"}' },
);
export type RestoreTarget = z.infer<typeof restoreTargetSchema>;

export const restoreBackupInput = z
  .object({
    database: databaseNameSchema,
    backupId: backupIdSchema('backupId').optional(),
    to: restoreTargetSchema,
    /** Create the roles the target lacks from the backup's roles object, then keep owners and grants. */
    withOwners: z.boolean().optional(),
    /** With withOwners: restored roles keep SUPERUSER, REPLICATION and BYPASSRLS (instance privilege). */
    privilegedRoles: z.boolean().optional(),
  })
  .strict()
  .refine((i) => !i.privilegedRoles || i.withOwners, 'privilegedRoles applies only with withOwners');
export type RestoreBackupInput = z.input<typeof restoreBackupInput>;

export type RestoreStage = 'starting' | 'preparing' | 'restoring' | 'verifying' | 'verified' | 'failed' | 'aborted';

export interface RestoreProgress {
  restoreId: string;
  backupId: string | null;
  database: string;
  stage: RestoreStage;
  readBytes: number;
  restoredBytes: number;
  error: string | null;
  /** Once restored: owners and grants kept or not, and the roles created, found or skipped. */
  ownership?: OwnershipReport;
}

export interface RestoreOutcome {
  restoreId: string;
  backupId: string;
  /** The storage the backup was read from. */
  storageName: string;
  database: string;
  target: string;
  tablesChecked: number;
  rowsChecked: number;
  /** E.g. a post_restore hook that failed; the restore itself succeeded. */
  warnings?: string[];
  /** Owners and grants: the mode, and the roles created, found or skipped (absent before roles were kept). */
  ownership?: OwnershipReport;
}

export const restoreBackupWorkflow = defineWorkflow<RestoreBackupInput, RestoreOutcome>('restoreBackup', 'restore');

export const restoreWorkflowId = (database: string, at: Date): string => `restore/${database}/${at.toISOString()}`;
const RESTORE_ID = new RegExp(`^restore/(${NAME_SOURCE})/[^/]+$`);
/** The database a restore id names, or null when the id is no restore id. */
export const databaseOfRestoreId = (workflowId: string): string | null => RESTORE_ID.exec(workflowId)?.[1] ?? null;

export const restoreProgressQuery = defineQuery<RestoreProgress>('progress');
export const abortRestoreSignal = defineSignal<[reason?: string]>('abort');
export const restoreProgressSignal = defineSignal<[{ readBytes: number; restoredBytes: number }]>(PROGRESS_SIGNAL);
