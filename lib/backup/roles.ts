import type pg from 'pg';
import { z } from 'zod';
import { HindsightError, errorMessage } from '../errors.ts';

/**
 * The server roles a logical backup needs to restore its owners and grants, stored beside the dump
 * (`<db>/<backupId>.roles.hsb`, encrypted like it). Structured JSON, never SQL text: the source
 * server is hostile input, so a restore generates its own statements from these fields
 * (roles-sql.ts) and never replays anything the source wrote. Passwords are not captured:
 * pg_authid needs superuser, and a password hash in storage would be a secret outside the key.
 */

/** A role name as PostgreSQL allows it: 1 to 63 bytes, no NUL. */
const roleName = z
  .string()
  .min(1)
  .refine((n) => Buffer.byteLength(n, 'utf8') <= 63, 'a role name is at most 63 bytes')
  .refine((n) => !n.includes('\0'), 'a role name holds no NUL character');

/** A configuration parameter name (`work_mem`, `app.tenant`): nothing that needs quoting to be one. */
const settingName = z
  .string()
  .max(200)
  .regex(/^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)*$/, 'not a configuration parameter name');

export const roleSettingSchema = z
  .object({
    /** `database`: set for the backed-up database only (ALTER ROLE … IN DATABASE); `all`: everywhere. */
    scope: z.enum(['database', 'all']),
    name: settingName,
    value: z
      .string()
      .max(10_000)
      .refine((v) => !v.includes('\0'), 'a setting value holds no NUL character'),
  })
  .strict();

export const storedRoleSchema = z
  .object({
    name: roleName,
    login: z.boolean(),
    inherit: z.boolean(),
    createDb: z.boolean(),
    createRole: z.boolean(),
    replication: z.boolean(),
    bypassRls: z.boolean(),
    superuser: z.boolean(),
    connectionLimit: z.number().int().min(-1).max(2_147_483_647),
    /** ISO 8601 in UTC, `infinity`, or null for none. */
    validUntil: z
      .string()
      .regex(/^(infinity|\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z)$/, 'validUntil must be an ISO time or infinity')
      .nullable(),
    settings: z.array(roleSettingSchema).max(1000),
  })
  .strict();

export const membershipSchema = z.object({ role: roleName, member: roleName, adminOption: z.boolean() }).strict();

export const rolesDocumentSchema = z
  .object({
    format: z.literal('hindsight-roles'),
    formatVersion: z.literal(1),
    roles: z.array(storedRoleSchema).max(10_000),
    memberships: z.array(membershipSchema).max(100_000),
  })
  .strict()
  .refine((d) => new Set(d.roles.map((r) => r.name)).size === d.roles.length, 'a role is listed twice');

export type StoredRole = z.infer<typeof storedRoleSchema>;
export type RoleMembership = z.infer<typeof membershipSchema>;
export type RolesDocument = z.infer<typeof rolesDocumentSchema>;

/** Parses a roles document read from storage; what does not fit the schema is refused whole. */
export function parseRolesDocument(text: string, objectName: string): RolesDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new HindsightError('integrity', `roles object ${objectName} is not JSON: ${errorMessage(error)}`);
  }
  const parsed = rolesDocumentSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HindsightError(
      'integrity',
      `roles object ${objectName} is invalid at ${issue?.path.join('.') || 'its top'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

/**
 * Every role that owns an object of the current database or is named in its ACLs and default
 * ACLs (pg_shdepend, which leaves out the bootstrap superuser, so owners of the database and of
 * its own schemas, tables and functions are added), then every role those are members of.
 */
const ROLES_QUERY = `
with recursive this_db as (select oid from pg_database where datname = current_database()),
direct(oid) as (
  select refobjid from pg_shdepend where dbid = (select oid from this_db) and refclassid = 'pg_authid'::regclass
  union select datdba from pg_database where oid = (select oid from this_db)
  union select nspowner from pg_namespace where nspname !~ '^pg_' and nspname <> 'information_schema'
  union select c.relowner from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname !~ '^pg_' and n.nspname <> 'information_schema'
  union select p.proowner from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname !~ '^pg_' and n.nspname <> 'information_schema'
  union select defaclrole from pg_default_acl
  union select (aclexplode(defaclacl)).grantee from pg_default_acl
),
wanted(oid) as (
  select oid from direct
  union select m.roleid from pg_auth_members m join wanted w on m.member = w.oid
)
select r.oid::text as oid, r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
       r.rolreplication, r.rolbypassrls, r.rolconnlimit,
       case when r.rolvaliduntil is null then null
            when r.rolvaliduntil = 'infinity' then 'infinity'
            else to_char(r.rolvaliduntil at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') end as valid_until
from pg_roles r where r.oid in (select oid from wanted) order by r.rolname`;

const MEMBERSHIPS_QUERY = `
select g.rolname as role, m.rolname as member, a.admin_option
from pg_auth_members a join pg_roles g on g.oid = a.roleid join pg_roles m on m.oid = a.member
where a.member = any($1::oid[]) order by 1, 2`;

const SETTINGS_QUERY = `
select s.setrole::text as oid, s.setdatabase = 0 as everywhere, s.setconfig
from pg_db_role_setting s
where s.setrole = any($1::oid[])
  and s.setdatabase in (0, (select oid from pg_database where datname = current_database()))`;

interface RoleRow {
  oid: string;
  rolname: string;
  rolsuper: boolean;
  rolinherit: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolcanlogin: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
  rolconnlimit: number;
  valid_until: string | null;
}

/** `name=value` as pg_db_role_setting stores it; names that are not plain parameter names are dropped. */
function settingsOf(rows: Array<{ oid: string; everywhere: boolean; setconfig: string[] }>, oid: string) {
  return rows
    .filter((s) => s.oid === oid)
    .flatMap((s) =>
      s.setconfig.map((entry) => {
        const at = entry.indexOf('=');
        return {
          scope: s.everywhere ? ('all' as const) : ('database' as const),
          name: entry.slice(0, at),
          value: entry.slice(at + 1),
        };
      }),
    )
    .filter((s) => roleSettingSchema.safeParse(s).success);
}

/** Reads the roles the connected database needs, with catalog queries any role may run. */
export async function readDatabaseRoles(client: pg.Client): Promise<RolesDocument> {
  const roles = (await client.query<RoleRow>(ROLES_QUERY)).rows;
  const oids = roles.map((r) => r.oid);
  const [memberships, settings] = await Promise.all([
    client.query<{ role: string; member: string; admin_option: boolean }>(MEMBERSHIPS_QUERY, [oids]),
    client.query<{ oid: string; everywhere: boolean; setconfig: string[] }>(SETTINGS_QUERY, [oids]),
  ]);
  return rolesDocumentSchema.parse({
    format: 'hindsight-roles',
    formatVersion: 1,
    roles: roles.map((r) => ({
      name: r.rolname,
      login: r.rolcanlogin,
      inherit: r.rolinherit,
      createDb: r.rolcreatedb,
      createRole: r.rolcreaterole,
      replication: r.rolreplication,
      bypassRls: r.rolbypassrls,
      superuser: r.rolsuper,
      connectionLimit: r.rolconnlimit,
      validUntil: r.valid_until,
      settings: settingsOf(settings.rows, r.oid),
    })),
    memberships: memberships.rows.map((m) => ({ role: m.role, member: m.member, adminOption: m.admin_option })),
  });
}
