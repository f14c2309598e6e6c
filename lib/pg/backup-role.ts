import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { HindsightError } from '../errors.ts';
import { connect, quoteIdent, type PgTarget } from './connection.ts';

/** Schemas PostgreSQL itself owns: nothing in them is the application's data. */
const SYSTEM_SCHEMAS = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp\\_%'`;
/** Predefined roles whose members can change data or run programs on the server. */
const WRITING_PREDEFINED_ROLES = ['pg_write_all_data', 'pg_write_server_files', 'pg_execute_server_program'];
const WRITE_PRIVILEGES = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'] as const;
const LISTED = 3;

export interface ReadOnlyReport {
  role: string;
  /** True when nothing below was found: the role can read and cannot change anything. */
  readOnly: boolean;
  /** Every reason the role can write or administer, one sentence each. */
  reasons: string[];
  /** Tables the role cannot read: a backup as this role would fail on them. */
  unreadableTables: string[];
  serverVersionNum: number;
}

const listed = (names: string[]): string =>
  `${names.slice(0, LISTED).join(', ')}${names.length > LISTED ? ` and ${names.length - LISTED} more` : ''}`;

/**
 * Reports whether the role a target connects as is read-only, and every reason why not:
 * superuser, CREATEDB/CREATEROLE, REPLICATION (unless PITR needs it), ownership (an owner can
 * always change its objects), INSERT/UPDATE/DELETE/TRUNCATE on a table, UPDATE on a sequence,
 * CREATE on the database or a schema, and membership in a role that can do any of it (a member
 * can SET ROLE to it even when it does not inherit its privileges).
 */
export async function checkReadOnly(
  label: string,
  target: PgTarget,
  options: { pitr?: boolean } = {},
): Promise<ReadOnlyReport> {
  const client = await connect(label, target);
  try {
    return await inspectRole(client, options.pitr ?? false);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The connected role, its attributes, and facts of the server and database it is connected to. */
const OWN_ROLE_SQL = `select r.oid, r.rolname, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolreplication,
            current_setting('server_version_num')::int as vnum, current_database() as db
     from pg_roles r where r.rolname = current_user`;

/** Every role $1 belongs to, directly or through others. */
const MEMBERSHIPS_SQL = `with recursive m(roleid) as (
       select roleid from pg_auth_members where member = $1
       union select a.roleid from pg_auth_members a join m on a.member = m.roleid)
     select r.oid, r.rolname, r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolreplication from m join pg_roles r on r.oid = m.roleid order by r.rolname`;

interface RoleAttributes {
  rolsuper: boolean;
  rolcreatedb: boolean;
  rolcreaterole: boolean;
  rolreplication: boolean;
}

interface OwnRole extends RoleAttributes {
  oid: number;
  rolname: string;
  vnum: number;
  db: string;
}

/** The attributes of a role that let it write or administer. */
function writingAttributes(r: RoleAttributes, pitr: boolean): string[] {
  return [
    r.rolsuper ? 'SUPERUSER' : null,
    r.rolcreatedb ? 'CREATEDB' : null,
    r.rolcreaterole ? 'CREATEROLE' : null,
    r.rolreplication && !pitr ? 'REPLICATION (only PITR needs it)' : null,
  ].filter((a): a is string => a !== null);
}

async function inspectRole(client: pg.Client, pitr: boolean): Promise<ReadOnlyReport> {
  const {
    rows: [me],
  } = await client.query<OwnRole>(OWN_ROLE_SQL);
  const reasons: string[] = [];
  const own = writingAttributes(me!, pitr);
  if (own.length > 0) reasons.push(`role "${me!.rolname}" has ${own.join(', ')}`);
  reasons.push(...(await membershipReasons(client, me!.oid, pitr)));
  if (!me!.rolsuper) {
    reasons.push(...(await ownershipReasons(client, me!)));
    reasons.push(...(await writePrivilegeReasons(client)));
    reasons.push(...(await createPrivilegeReasons(client, me!)));
  }
  return {
    role: me!.rolname,
    readOnly: reasons.length === 0,
    reasons,
    unreadableTables: await unreadableTables(client),
    serverVersionNum: me!.vnum,
  };
}

/** A role one belongs to lends its rights (SET ROLE works even without INHERIT). */
async function membershipReasons(client: pg.Client, oid: number, pitr: boolean): Promise<string[]> {
  const reasons: string[] = [];
  const { rows: memberships } = await client.query(MEMBERSHIPS_SQL, [oid]);
  for (const role of memberships) {
    const can = writingAttributes(role, pitr);
    if (WRITING_PREDEFINED_ROLES.includes(role.rolname)) can.push(`the rights of ${role.rolname}`);
    if (can.length === 0) {
      const {
        rows: [w],
      } = await client.query(
        `select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.relkind in ('r', 'p', 'f', 'v') and ${SYSTEM_SCHEMAS}
           and (pg_has_role($1::oid, c.relowner, 'MEMBER') or has_table_privilege($1::oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'))`,
        [role.oid],
      );
      if (w.n > 0) can.push(`write access to ${w.n} table(s)`);
    }
    if (can.length > 0) reasons.push(`member of role "${role.rolname}", which has ${can.join(', ')}`);
  }
  return reasons;
}

async function ownershipReasons(client: pg.Client, me: OwnRole): Promise<string[]> {
  const { rows: owned } = await client.query(
    `select 'database ' || quote_ident(d.datname) as what from pg_database d where d.datname = current_database() and d.datdba = $1
       union all
       select 'schema ' || quote_ident(n.nspname) from pg_namespace n where ${SYSTEM_SCHEMAS} and n.nspowner = $1
       union all
       select 'table ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'f', 'v', 'm', 'S') and ${SYSTEM_SCHEMAS} and c.relowner = $1`,
    [me.oid],
  );
  if (owned.length === 0) return [];
  return [
    `role "${me.rolname}" owns ${owned.length} object(s) (${listed(owned.map((o) => o.what))}), and an owner can always change them`,
  ];
}

/** Write privileges on tables, and UPDATE on sequences (nextval/setval). */
async function writePrivilegeReasons(client: pg.Client): Promise<string[]> {
  const reasons: string[] = [];
  const { rows: writes } = await client.query(
    `select p.priv, quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace cross join unnest($1::text[]) as p(priv)
       where c.relkind in ('r', 'p', 'f', 'v') and ${SYSTEM_SCHEMAS} and has_table_privilege(c.oid, p.priv)
       order by 1, 2`,
    [WRITE_PRIVILEGES],
  );
  for (const priv of WRITE_PRIVILEGES) {
    const names = writes.filter((w) => w.priv === priv).map((w) => w.name as string);
    if (names.length > 0) reasons.push(`can ${priv} on ${names.length} table(s): ${listed(names)}`);
  }
  const { rows: sequences } = await client.query(
    `select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where c.relkind = 'S' and ${SYSTEM_SCHEMAS}
         -- CASE: the planner may call the function before the filters, and it fails on other relations.
         and case when c.relkind = 'S' then has_sequence_privilege(c.oid, 'UPDATE') else false end order by 1`,
  );
  if (sequences.length > 0)
    reasons.push(
      `can UPDATE (nextval/setval) ${sequences.length} sequence(s): ${listed(sequences.map((s) => s.name))}`,
    );
  return reasons;
}

/** CREATE on the database (new schemas) or on a schema (new objects). */
async function createPrivilegeReasons(client: pg.Client, me: OwnRole): Promise<string[]> {
  const reasons: string[] = [];
  const {
    rows: [dbCreate],
  } = await client.query(`select has_database_privilege(current_database(), 'CREATE') as can`);
  if (dbCreate.can) reasons.push(`can CREATE schemas in database ${quoteIdent(me.db)}`);
  const { rows: schemas } = await client.query(
    `select quote_ident(n.nspname) as name from pg_namespace n where ${SYSTEM_SCHEMAS} and has_schema_privilege(n.oid, 'CREATE') order by 1`,
  );
  if (schemas.length > 0)
    reasons.push(
      `can CREATE objects in schema(s) ${listed(schemas.map((s) => s.name))}${schemas.some((s) => s.name === 'public') && me.vnum < 150000 ? ' (before PostgreSQL 15 everyone may create in public: REVOKE CREATE ON SCHEMA public FROM PUBLIC)' : ''}`,
    );
  return reasons;
}

async function unreadableTables(client: pg.Client): Promise<string[]> {
  const { rows: unreadable } = await client.query(
    `select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p') and ${SYSTEM_SCHEMAS}
       and not (has_schema_privilege(n.oid, 'USAGE') and has_table_privilege(c.oid, 'SELECT')) order by 1`,
  );
  return unreadable.map((u) => u.name);
}

/**
 * A SCRAM-SHA-256 verifier (RFC 5802, RFC 7677) in PostgreSQL's format: the server stores it as
 * is, so the password itself never reaches the server's statement log.
 */
export function scramSha256Verifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

export const backupRoleNamePattern = /^[a-z_][a-z0-9_]{0,62}$/;

export interface CreatedBackupRole {
  roleName: string;
  /** For the caller to seal at once; never log or return it. */
  password: string;
  /** What was granted, as SQL without the password, for the record. */
  statements: string[];
  notes: string[];
}

/**
 * Creates a least-privilege login role for backups of the admin target's database, in one
 * transaction: LOGIN with a random password, pg_read_all_data where the server has it (14+) or
 * else USAGE/SELECT on every schema, table and sequence plus default privileges for objects
 * created later; BYPASSRLS only if a table has row-level security (pg_dump refuses otherwise),
 * REPLICATION only for PITR, CONNECT on the database.
 */
export async function createBackupRole(
  label: string,
  admin: PgTarget,
  options: { roleName: string; pitr?: boolean; explicitGrants?: boolean },
): Promise<CreatedBackupRole> {
  checkBackupRoleName(options.roleName);
  const client = await connect(label, admin);
  const role = quoteIdent(options.roleName);
  const statements: string[] = [];
  const notes: string[] = [];
  const exec: Exec = async (sql, shown = sql) => {
    statements.push(shown);
    await client.query(sql);
  };
  try {
    const facts = await readRoleCreationFacts(client, options.roleName);
    const password = randomBytes(24).toString('base64url');
    const attributes = backupRoleAttributes(options.pitr ?? false, facts.rls);
    if (facts.rls)
      notes.push('BYPASSRLS: some tables have row-level security, which pg_dump refuses to dump partially');
    await client.query('begin');
    try {
      await exec(
        `create role ${role} ${attributes.join(' ')} password '${scramSha256Verifier(password)}'`,
        `create role ${role} ${attributes.join(' ')} password '…'`,
      );
      await exec(`grant connect on database ${quoteIdent(facts.db)} to ${role}`);
      if (facts.vnum >= 140000 && !options.explicitGrants) {
        await exec(`grant pg_read_all_data to ${role}`);
      } else {
        await grantExplicitReads(client, exec, role);
        notes.push(
          'explicit grants: schemas created later need GRANT USAGE and SELECT for this role (PostgreSQL 14+ has pg_read_all_data for this)',
        );
      }
      if (facts.blobs)
        notes.push('the database holds large objects: grant SELECT on them to this role (or dump with --no-blobs)');
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw creationRefused(error, label, admin);
    }
    return { roleName: options.roleName, password, statements, notes };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs a statement and records it, shown without secrets. */
type Exec = (sql: string, shown?: string) => Promise<void>;

function checkBackupRoleName(roleName: string): void {
  if (!backupRoleNamePattern.test(roleName)) {
    throw new HindsightError(
      'bad_input',
      `role name "${roleName}" must be lowercase letters, digits and "_", starting with a letter or "_" (at most 63)`,
    );
  }
}

interface RoleCreationFacts {
  vnum: number;
  db: string;
  /** Some table has row-level security. */
  rls: boolean;
  /** The database holds large objects. */
  blobs: boolean;
}

/** What decides the grants; refuses a role name already taken. */
async function readRoleCreationFacts(client: pg.Client, roleName: string): Promise<RoleCreationFacts> {
  const {
    rows: [facts],
  } = await client.query(
    `select current_setting('server_version_num')::int as vnum, current_database() as db,
              exists (select 1 from pg_roles where rolname = $1) as taken,
              exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relrowsecurity and ${SYSTEM_SCHEMAS}) as rls,
              exists (select 1 from pg_largeobject_metadata) as blobs`,
    [roleName],
  );
  if (facts.taken)
    throw new HindsightError(
      'conflict',
      `role "${roleName}" already exists on the server (choose another with --role)`,
    );
  return facts;
}

function backupRoleAttributes(pitr: boolean, rls: boolean): string[] {
  return [
    'LOGIN',
    'NOSUPERUSER',
    'NOCREATEDB',
    'NOCREATEROLE',
    'INHERIT',
    pitr ? 'REPLICATION' : 'NOREPLICATION',
    rls ? 'BYPASSRLS' : 'NOBYPASSRLS',
  ];
}

/** Before pg_read_all_data (PostgreSQL 14): USAGE and SELECT on every schema, table and sequence, now and later. */
async function grantExplicitReads(client: pg.Client, exec: Exec, role: string): Promise<void> {
  const { rows: schemas } = await client.query(
    `select n.nspname, array(select distinct r.rolname from pg_class c join pg_roles r on r.oid = c.relowner
                                   where c.relnamespace = n.oid and pg_has_role(current_user, c.relowner, 'MEMBER')
                                   union select current_user)::text[] as owners
           from pg_namespace n where ${SYSTEM_SCHEMAS} order by 1`,
  );
  for (const schema of schemas) {
    const s = quoteIdent(schema.nspname);
    await exec(`grant usage on schema ${s} to ${role}`);
    await exec(`grant select on all tables in schema ${s} to ${role}`);
    await exec(`grant select on all sequences in schema ${s} to ${role}`);
    // Tables created later by these owners are readable too.
    for (const owner of schema.owners as string[]) {
      await exec(
        `alter default privileges for role ${quoteIdent(owner)} in schema ${s} grant select on tables to ${role}`,
      );
      await exec(
        `alter default privileges for role ${quoteIdent(owner)} in schema ${s} grant select on sequences to ${role}`,
      );
    }
  }
}

/** A missing privilege names the admin role and the fix; anything else goes up as it is. */
function creationRefused(error: unknown, label: string, admin: PgTarget): unknown {
  const err = error as { code?: string; message?: string };
  if (err.code !== '42501') return error;
  return new HindsightError(
    'access_denied',
    `database "${label}": role "${admin.user}" may not create the backup role (${err.message}); run it with a superuser or a role with CREATEROLE (--admin-url)`,
    { cause: error },
  );
}
