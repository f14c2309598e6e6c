import { z } from 'zod';
import type { Catalog } from '../../lib/catalog/catalog.ts';
import { HindsightError } from '../../lib/errors.ts';
import {
  backupRoleNamePattern,
  checkReadOnly,
  createBackupRole,
  type ReadOnlyReport,
} from '../../lib/pg/backup-role.ts';
import { parsePgUrl, pgUrlSchema } from '../../lib/pg/connection.ts';
import type { Actor } from './work.ts';

export const DEFAULT_BACKUP_ROLE = 'hindsight_backup';

export const createBackupRoleInput = z
  .object({
    roleName: z
      .string()
      .regex(
        backupRoleNamePattern,
        'role must be lowercase letters, digits and "_", starting with a letter or "_" (at most 63)',
      )
      .default(DEFAULT_BACKUP_ROLE),
    pitr: z.boolean().default(false),
    /** A role allowed to create roles, when the configured one is not; its password is used once and not kept. */
    adminUrl: pgUrlSchema.optional(),
    /** USAGE/SELECT grants and default privileges even where pg_read_all_data exists. */
    explicitGrants: z.boolean().default(false),
  })
  .strict();
export type CreateBackupRoleInput = z.input<typeof createBackupRoleInput>;

export interface BackupRoleResult {
  database: string;
  role: string;
  /** The check of the new role, run as that role. */
  check: ReadOnlyReport;
  statements: string[];
  notes: string[];
}

/** The one-line offer shown when a database is added with a role that can write. */
export function backupRoleOffer(database: string, report: ReadOnlyReport): string | null {
  if (report.readOnly) return null;
  return `role "${report.role}" can write (${report.reasons[0]}${report.reasons.length > 1 ? `, and ${report.reasons.length - 1} more` : ''}): create a read-only backup role with hindsight db create-backup-role ${database}`;
}

/**
 * The read-only backup role: the check of the configured role, and the one-step creation of a
 * least-privilege role that the database's configuration then switches to. Every function takes
 * the acting user so that an authorization check and the audit log can sit in front of it.
 */
export function createBackupRoleService(catalog: Catalog) {
  return {
    async checkRole(database: string, options: { pitr?: boolean } = {}): Promise<ReadOnlyReport> {
      const target = await catalog.databaseTarget(database);
      return checkReadOnly(database, target, options);
    },

    async createRole(
      database: string,
      raw: CreateBackupRoleInput = {},
      _actor: Actor | null = null,
    ): Promise<BackupRoleResult> {
      const parsed = createBackupRoleInput.safeParse(raw);
      if (!parsed.success)
        throw new HindsightError(
          'bad_input',
          parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '),
        );
      const input = parsed.data;
      const configured = await catalog.databaseTarget(database);
      const admin = input.adminUrl ? { ...parsePgUrl(input.adminUrl), database: configured.database } : configured;
      if (input.roleName === configured.user)
        throw new HindsightError(
          'bad_input',
          `database "${database}" already connects as "${input.roleName}" (choose another --role)`,
        );
      const created = await createBackupRole(database, admin, {
        roleName: input.roleName,
        pitr: input.pitr,
        explicitGrants: input.explicitGrants,
      });
      const next = { ...configured, user: created.roleName, password: created.password };
      // Proven before it is saved: the new role connects and is read-only.
      const check = await checkReadOnly(database, next, { pitr: input.pitr });
      await catalog.setDatabaseRole(database, created.roleName, created.password);
      return { database, role: created.roleName, check, statements: created.statements, notes: created.notes };
    },
  };
}

export type BackupRoleService = ReturnType<typeof createBackupRoleService>;
