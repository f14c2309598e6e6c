import type pg from 'pg';
import { HindsightError, errorMessage } from '../errors.ts';
import { describeTarget, type PgTarget } from '../pg/connection.ts';
import type { RolesDocument } from './roles.ts';
import { planRoles, type ExistingRole, type RolePlanEntry } from './roles-sql.ts';

/** What a restore did about owners and grants: shown in its result and report. */
export interface OwnershipReport {
  /** `with-owners`: roles created and owners and grants restored; `without-owners`: pg_restore --no-owner --no-privileges. */
  mode: 'with-owners' | 'without-owners';
  /** Roles this restore created, without passwords: a LOGIN role must be given one before it can log in. */
  created: string[];
  /** Roles the target already had, left as they were. */
  existed: string[];
  /** Roles, attributes, memberships and settings left out, each with why. */
  skipped: RolePlanEntry[];
}

/** A restore with owners: the backup's roles, and whether privileged attributes may be restored. */
export interface OwnersOption {
  roles: RolesDocument;
  privileged: boolean;
}

export const WITHOUT_OWNERS: OwnershipReport = { mode: 'without-owners', created: [], existed: [], skipped: [] };

async function existingRoles(client: pg.Client, names: string[]): Promise<ExistingRole[]> {
  const { rows } = await client.query<{ name: string; privileged: boolean }>(
    `select rolname as name, (rolsuper or rolreplication or rolbypassrls) as privileged
     from pg_roles where rolname = any($1::text[])`,
    [names],
  );
  return rows;
}

/**
 * Creates the roles of the backup that the target lacks, before pg_restore sets owners and grants.
 * Roles are server-wide, so this cannot be part of pg_restore's transaction: it is one transaction
 * of its own, and a refused role (no CREATEROLE) leaves none behind. A setting the target refuses
 * (an unknown parameter, one only a superuser may set) is skipped and reported, not fatal.
 */
export async function createMissingRoles(
  client: pg.Client,
  target: PgTarget,
  owners: OwnersOption,
): Promise<OwnershipReport> {
  const names = [
    ...new Set([...owners.roles.roles.map((r) => r.name), ...owners.roles.memberships.map((m) => m.role)]),
  ];
  const plan = planRoles(owners.roles, await existingRoles(client, names), {
    privileged: owners.privileged,
    targetDatabase: target.database,
  });
  const skipped = [...plan.skipped];
  await client.query('begin');
  try {
    for (const statement of plan.statements) {
      if (statement.optional) await client.query('savepoint optional_setting');
      try {
        await client.query(statement.sql);
      } catch (error) {
        if (!statement.optional) throw refusal(target, statement.what, error);
        await client.query('rollback to savepoint optional_setting');
        skipped.push({ what: statement.what, reason: `the target refused it: ${errorMessage(error)}` });
      }
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
  return { mode: 'with-owners', created: plan.create.map((r) => r.name), existed: plan.existing, skipped };
}

function refusal(target: PgTarget, what: string, error: unknown): HindsightError {
  const err = error as { code?: string };
  const hint =
    err.code === '42501'
      ? ' (the restore role needs CREATEROLE, or SUPERUSER for privileged attributes; or restore without --with-owners)'
      : '';
  return new HindsightError(
    err.code === '42501' ? 'access_denied' : 'tool_failed',
    `restore target ${describeTarget(target)}: could not create ${what}: ${errorMessage(error)}${hint}`,
  );
}
