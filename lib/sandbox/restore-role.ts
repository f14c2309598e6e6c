/**
 * The role a dump is loaded as. A dump is hostile: anything it makes the server evaluate during a
 * load (CHECK constraints, index expressions, generated columns, materialized views, defaults)
 * runs with the privileges of the role that loads it. This role is no superuser, may create no
 * role or database, replicates nothing, bypasses no row security and belongs to no predefined
 * role (pg_execute_server_program, pg_read_server_files, pg_write_server_files…), so that code
 * cannot run programs or touch files on the host. It owns the scratch database and nothing else.
 */
import { randomBytes } from 'node:crypto';
import { HindsightError } from '../errors.ts';
import { connect, quoteIdent, type PgTarget } from '../pg/connection.ts';
import { grantIndexCheck } from '../verify/index-check.ts';
import type { Sandbox } from './contract.ts';

export const RESTORE_ROLE = 'hindsight_restore';

export interface ExtensionRequest {
  name: string;
  schema: string;
}

export interface RestoreDatabase {
  /** The scratch database, reached as the restore role with its own random password. */
  target: PgTarget;
  /** Extensions made by the sandbox's superuser from the sandbox's own extension files. */
  extensionsCreated: ExtensionRequest[];
  /** Extensions the dump needs that this server cannot provide, or refused, with the reason. */
  extensionsMissing: Array<ExtensionRequest & { reason: string }>;
  /** Schemas made (owned by the restore role) to hold those extensions. */
  schemasCreated: string[];
  /** Where amcheck's bt_index_check is granted to the restore role, or why it is not (lib/verify/index-check.ts). */
  indexCheck: { schema: string } | { unavailable: string };
}

/** Languages that let their functions reach the host: a non-superuser cannot use them anyway. */
const UNTRUSTED_LANGUAGE = /^pl\w*u$/;

async function createExtensions(
  admin: PgTarget,
  database: string,
  wanted: ExtensionRequest[],
): Promise<Omit<RestoreDatabase, 'target' | 'indexCheck'>> {
  const created: ExtensionRequest[] = [];
  const missing: Array<ExtensionRequest & { reason: string }> = [];
  const schemas: string[] = [];
  if (wanted.length === 0) return { extensionsCreated: created, extensionsMissing: missing, schemasCreated: schemas };
  const client = await connect('verification sandbox', { ...admin, database });
  try {
    await client.query('set search_path = pg_catalog, pg_temp');
    const available = new Set(
      (await client.query<{ name: string }>('select name from pg_available_extensions')).rows.map((r) => r.name),
    );
    for (const ext of wanted) {
      if (UNTRUSTED_LANGUAGE.test(ext.name)) {
        missing.push({
          ...ext,
          reason: 'an untrusted language: its functions could run programs on the host, so it is not installed',
        });
        continue;
      }
      if (!available.has(ext.name)) {
        missing.push({
          ...ext,
          reason: `not available on the sandbox server (install the extension's package for PostgreSQL here)`,
        });
        continue;
      }
      try {
        if (!['public', 'pg_catalog'].includes(ext.schema)) {
          const made = await client.query(`select 1 from pg_namespace where nspname = $1`, [ext.schema]);
          if (made.rowCount === 0) {
            await client.query(`create schema ${quoteIdent(ext.schema)} authorization ${quoteIdent(RESTORE_ROLE)}`);
            schemas.push(ext.schema);
          }
        }
        await client.query(
          `create extension if not exists ${quoteIdent(ext.name)} with schema ${quoteIdent(ext.schema)}`,
        );
        created.push(ext);
      } catch (error) {
        missing.push({ ...ext, reason: (error as Error).message });
      }
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  return { extensionsCreated: created, extensionsMissing: missing, schemasCreated: schemas };
}

/**
 * Creates the restore role and a scratch database it owns, then the extensions the dump needs (as
 * the superuser, from the server's own files: trusted code, not the dump's). Refuses to go on if
 * the role turns out to hold any privilege beyond owning that database.
 */
export async function prepareRestoreDatabase(
  sandbox: Pick<Sandbox, 'admin'>,
  options: { database: string; extensions: ExtensionRequest[] },
): Promise<RestoreDatabase> {
  const password = randomBytes(24).toString('base64url');
  const admin = await connect('verification sandbox', sandbox.admin);
  try {
    await admin.query('set search_path = pg_catalog, pg_temp');
    // Before PostgreSQL 14 the default is md5, which scram-sha-256 authentication rejects.
    await admin.query(`set password_encryption = 'scram-sha-256'`);
    await admin.query(
      `create role ${quoteIdent(RESTORE_ROLE)} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls password '${password}'`,
    );
    await admin.query(
      `create database ${quoteIdent(options.database)} owner ${quoteIdent(RESTORE_ROLE)} template template0 encoding 'UTF8'`,
    );
    const { rows } = await admin.query<{ superuser: boolean; memberships: string }>(
      `select rolsuper or rolcreaterole or rolcreatedb or rolreplication or rolbypassrls as superuser,
              (select count(*) from pg_auth_members m where m.member = r.oid)::text as memberships
         from pg_roles r where rolname = $1`,
      [RESTORE_ROLE],
    );
    const facts = rows[0];
    if (!facts || facts.superuser || facts.memberships !== '0') {
      throw new HindsightError(
        'integrity',
        `the sandbox's restore role ${RESTORE_ROLE} holds privileges it must not have: refusing to load the dump`,
      );
    }
  } finally {
    await admin.end().catch(() => undefined);
  }
  const made = await createExtensions(sandbox.admin, options.database, options.extensions);
  // After the dump's own extensions (it may want amcheck itself), before anything of the dump is loaded.
  const indexCheck = await grantIndexCheck(sandbox.admin, options.database, RESTORE_ROLE);
  return {
    target: { ...sandbox.admin, database: options.database, user: RESTORE_ROLE, password },
    ...made,
    indexCheck,
  };
}
