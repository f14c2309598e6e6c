import pg from 'pg';
import type { RoleMembership, RolesDocument, StoredRole } from './roles.ts';

/**
 * The statements that create a backup's roles on a restore target, generated from the roles
 * document's fields: every name is quoted with escapeIdentifier and every value with escapeLiteral,
 * so nothing the source server wrote is ever run as SQL.
 */

/** Attributes that reach past the restored database (the whole server, replication, row security). */
export const PRIVILEGED_ATTRIBUTES = ['SUPERUSER', 'REPLICATION', 'BYPASSRLS'] as const;
export type PrivilegedAttribute = (typeof PRIVILEGED_ATTRIBUTES)[number];

const ident = (name: string) => pg.escapeIdentifier(name);
const literal = (value: string) => pg.escapeLiteral(value);

/** The privileged attributes the source role had. */
export function privilegedAttributesOf(role: StoredRole): PrivilegedAttribute[] {
  const has: Record<PrivilegedAttribute, boolean> = {
    SUPERUSER: role.superuser,
    REPLICATION: role.replication,
    BYPASSRLS: role.bypassRls,
  };
  return PRIVILEGED_ATTRIBUTES.filter((a) => has[a]);
}

/** CREATE ROLE with every attribute spelled out (none left to the target's defaults); no password. */
export function createRoleSql(role: StoredRole, options: { privileged: boolean }): string {
  const allowed = (on: boolean) => on && options.privileged;
  const flag = (on: boolean, name: string) => (on ? name : `NO${name}`);
  const parts = [
    flag(allowed(role.superuser), 'SUPERUSER'),
    flag(role.createDb, 'CREATEDB'),
    flag(role.createRole, 'CREATEROLE'),
    flag(role.inherit, 'INHERIT'),
    flag(role.login, 'LOGIN'),
    flag(allowed(role.replication), 'REPLICATION'),
    flag(allowed(role.bypassRls), 'BYPASSRLS'),
    `CONNECTION LIMIT ${Math.trunc(role.connectionLimit)}`,
    ...(role.validUntil === null ? [] : [`VALID UNTIL ${literal(role.validUntil)}`]),
  ];
  return `CREATE ROLE ${ident(role.name)} WITH ${parts.join(' ')}`;
}

/**
 * Settings that load code into the target server when the role logs in. The stored roles come from
 * the source, which may be hostile: a restore must not plant a library path on another server.
 */
const CODE_LOADING_SETTINGS = new Set([
  'session_preload_libraries',
  'local_preload_libraries',
  'shared_preload_libraries',
  'dynamic_library_path',
  'jit_provider',
]);

/** ALTER ROLE … SET for each stored setting; database-wide ones go to the restored database. */
export function roleSettingsSql(role: StoredRole, targetDatabase: string): string[] {
  return role.settings.map((s) => {
    const where = s.scope === 'database' ? ` IN DATABASE ${ident(targetDatabase)}` : '';
    return `ALTER ROLE ${ident(role.name)}${where} SET ${ident(s.name)} TO ${literal(s.value)}`;
  });
}

export function grantMembershipSql(membership: RoleMembership): string {
  const admin = membership.adminOption ? ' WITH ADMIN OPTION' : '';
  return `GRANT ${ident(membership.role)} TO ${ident(membership.member)}${admin}`;
}

/** What a target server says about a role that already exists there. */
export interface ExistingRole {
  name: string;
  /** SUPERUSER, REPLICATION or BYPASSRLS on the target: membership in it would hand those on. */
  privileged: boolean;
}

export interface RolePlanEntry {
  what: string;
  reason: string;
}

/** The statements to run, in order, and what was left out and why. */
export interface RolePlan {
  create: StoredRole[];
  existing: string[];
  statements: Array<{ sql: string; what: string; optional: boolean }>;
  skipped: RolePlanEntry[];
}

/**
 * A membership is granted only to a role this restore creates (existing roles are left as they
 * are); without `privileged`, never into a predefined `pg_*` role or a role that is privileged on
 * the target, which would hand its powers to a role the backup describes.
 */
function membershipVerdict(
  m: RoleMembership,
  created: Set<string>,
  existing: Map<string, ExistingRole>,
  privileged: boolean,
): string | undefined {
  if (!created.has(m.member)) return undefined;
  const into = existing.get(m.role);
  if (!created.has(m.role) && !into) return `role "${m.role}" is neither on the target nor in the backup`;
  if (privileged || !into) return undefined;
  if (m.role.startsWith('pg_')) return `"${m.role}" is a predefined role: needs --with-privileged-roles`;
  if (into.privileged) return `"${m.role}" is a privileged role on the target: needs --with-privileged-roles`;
  return undefined;
}

/** Plans what a restore with owners does with the backup's roles on a target that has `existing`. */
export function planRoles(
  document: RolesDocument,
  existing: ExistingRole[],
  options: { privileged: boolean; targetDatabase: string },
): RolePlan {
  const byName = new Map(existing.map((r) => [r.name, r]));
  const plan: RolePlan = { create: [], existing: [], statements: [], skipped: [] };
  for (const role of document.roles) {
    if (byName.has(role.name)) plan.existing.push(role.name);
    else if (role.name.startsWith('pg_'))
      plan.skipped.push({ what: `role "${role.name}"`, reason: 'names starting with pg_ are reserved by PostgreSQL' });
    else plan.create.push(role);
  }
  for (const role of plan.create) {
    plan.statements.push({ sql: createRoleSql(role, options), what: `role "${role.name}"`, optional: false });
    const dropped = options.privileged ? [] : privilegedAttributesOf(role);
    if (dropped.length > 0)
      plan.skipped.push({
        what: `${dropped.join(', ')} of role "${role.name}"`,
        reason: 'privileged attributes are restored only with --with-privileged-roles',
      });
  }
  const created = new Set(plan.create.map((r) => r.name));
  for (const m of document.memberships) {
    const what = `membership of "${m.member}" in "${m.role}"`;
    const refused = membershipVerdict(m, created, byName, options.privileged);
    if (refused) plan.skipped.push({ what, reason: refused });
    else if (created.has(m.member)) plan.statements.push({ sql: grantMembershipSql(m), what, optional: false });
  }
  for (const role of plan.create) {
    const loading = options.privileged
      ? []
      : role.settings.filter((s) => CODE_LOADING_SETTINGS.has(s.name.toLowerCase()));
    for (const s of loading)
      plan.skipped.push({
        what: `setting ${s.name} of role "${role.name}"`,
        reason: 'it makes the server load a library when the role logs in; restored only with --with-privileged-roles',
      });
    const kept = { ...role, settings: role.settings.filter((s) => !loading.includes(s)) };
    for (const sql of roleSettingsSql(kept, options.targetDatabase))
      plan.statements.push({ sql, what: `a setting of role "${role.name}"`, optional: true });
  }
  return plan;
}
