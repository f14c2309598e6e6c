/**
 * A small database whose tables are owned by two roles, with grants, a membership and a role
 * setting, and the queries a restore with owners is compared by.
 */
import type { StoredRole } from '../../lib/backup/roles.ts';
import { connect, type PgTarget } from '../../lib/pg/connection.ts';

/** A stored role with no attribute beyond INHERIT, as the roles document holds it. */
export function storedRole(name: string, overrides: Partial<StoredRole> = {}): StoredRole {
  return {
    name,
    login: false,
    inherit: true,
    createDb: false,
    createRole: false,
    replication: false,
    bypassRls: false,
    superuser: false,
    connectionLimit: -1,
    validUntil: null,
    settings: [],
    ...overrides,
  };
}

/** A name that must be quoted, and would break out of a careless statement. */
export const WRITER = 'crm "writer"; drop table customers; --';
const writer = `"${WRITER.replace(/"/g, '""')}"`;

/** The roles the source server gets (server-wide, so created once per cluster). */
export const ownerRoles = ['crm_owner', 'crm_readers', WRITER].sort();

export const ownersSchema = `
  create role crm_owner login superuser;
  create role ${writer} login createdb connection limit 5;
  create role crm_readers nologin;
  grant crm_readers to ${writer} with admin option;
  alter role crm_readers set work_mem = '8MB';
  create table customers (id int primary key, name text);
  insert into customers select g, 'customer ' || g from generate_series(1, 50) g;
  create table orders (id int primary key, customer int not null);
  insert into orders select g, 1 + g % 50 from generate_series(1, 120) g;
  alter table customers owner to crm_owner;
  alter table orders owner to ${writer};
  grant select on customers to crm_readers;
  grant insert, select on customers to ${writer};
`;

async function query<T extends object>(target: PgTarget, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = await connect('owners check', target);
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Owner and ACL of each table, by role name, and what the readers may do. */
export function ownership(target: PgTarget) {
  return query<{ table: string; owner: string; acl: string | null; readers_select: boolean | null }>(
    target,
    `select c.relname as table, pg_get_userbyid(c.relowner) as owner, c.relacl::text as acl,
            case when exists (select from pg_roles where rolname = 'crm_readers')
                 then has_table_privilege('crm_readers', c.oid, 'select') end as readers_select
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind = 'r' order by 1`,
  );
}

/** The restored roles' attributes, membership and settings on a server. */
export function roleFacts(target: PgTarget) {
  return query<{
    name: string;
    superuser: boolean;
    login: boolean;
    connlimit: number;
    in_readers: boolean;
    settings: string[] | null;
  }>(
    target,
    `select r.rolname as name, r.rolsuper as superuser, r.rolcanlogin as login, r.rolconnlimit as connlimit,
            pg_has_role(r.oid, 'crm_readers', 'member') as in_readers,
            (select setconfig from pg_db_role_setting s where s.setrole = r.oid and s.setdatabase = 0) as settings
     from pg_roles r where r.rolname = any($1::text[]) order by 1`,
    [ownerRoles],
  );
}
