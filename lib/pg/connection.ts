import pg from 'pg';
import { z } from 'zod';
import { HindsightError } from '../errors.ts';

/** Where a PostgreSQL database is; the password travels separately and is never in a URL we log. */
export interface PgTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string | undefined;
  sslmode?: string | undefined;
}

const sslModes = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

export const pgUrlSchema = z
  .string()
  .min(1, 'a postgres:// URL is required')
  .refine((value) => /^postgres(ql)?:\/\//.test(value), 'must start with postgres:// or postgresql://')
  .refine((value) => URL.canParse(value), 'is not a valid URL');

export function parsePgUrl(value: string): PgTarget {
  const url = new URL(pgUrlSchema.parse(value));
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const sslmode = url.searchParams.get('sslmode') ?? undefined;
  if (sslmode && !(sslModes as readonly string[]).includes(sslmode)) {
    throw new HindsightError('bad_input', `sslmode "${sslmode}" is not one of ${sslModes.join(', ')}`);
  }
  return {
    host: decodeURIComponent(url.hostname) || '127.0.0.1',
    port: url.port ? Number(url.port) : 5432,
    database: database || 'postgres',
    user: decodeURIComponent(url.username) || 'postgres',
    password: url.password ? decodeURIComponent(url.password) : undefined,
    sslmode,
  };
}

/** A URL safe to show and log: no password. */
export function describeTarget(target: PgTarget): string {
  return `postgres://${encodeURIComponent(target.user)}@${target.host}:${target.port}/${encodeURIComponent(target.database)}`;
}

export function targetUrl(target: PgTarget): string {
  const auth = target.password
    ? `${encodeURIComponent(target.user)}:${encodeURIComponent(target.password)}`
    : encodeURIComponent(target.user);
  const query = target.sslmode ? `?sslmode=${target.sslmode}` : '';
  return `postgres://${auth}@${target.host}:${target.port}/${encodeURIComponent(target.database)}${query}`;
}

/*
 * A database we connect to gets the credentials stored for it and nothing else. libpq (pg_dump,
 * pg_basebackup, pg_receivewal, pg_restore) and node-postgres both fall back, when no password is
 * given, to PGPASSWORD, PGPASSFILE or ~/.pgpass and the other PG* variables of whichever process
 * connects. Then `db add`'s check could pass with a password a person exported while the worker,
 * without it, fails later; and a worker or CLI holding such a variable would send it to a server
 * that may be hostile. The catalog's own pool (lib/catalog/catalog.ts) is not concerned.
 */

/** A path that can never be a file (nothing exists under /dev/null), so libpq reads no password file. */
const NO_PASSWORD_FILE = '/dev/null/hindsight-reads-no-pgpass';

/** Environment for libpq tools: credentials in the environment, never on the command line (ps shows argv). */
export function libpqEnv(target: PgTarget): Record<string, string> {
  const env: Record<string, string> = {
    PGPASSFILE: NO_PASSWORD_FILE,
    PGHOST: target.host,
    PGPORT: String(target.port),
    PGDATABASE: target.database,
    PGUSER: target.user,
    PGCONNECT_TIMEOUT: '10',
    PGAPPNAME: 'hindsight',
  };
  if (target.password !== undefined) env.PGPASSWORD = target.password;
  if (target.sslmode) env.PGSSLMODE = target.sslmode;
  return env;
}

/**
 * The environment of a libpq tool run against `target`: this process's own without any PG*
 * variable (a password, a password or service file, an sslmode of the person who started it),
 * then `target`'s connection.
 */
export function libpqChildEnv(target: PgTarget, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base))
    if (value !== undefined && !name.startsWith('PG')) env[name] = value;
  return { ...env, ...libpqEnv(target) };
}

/** Thrown when a server asks for a password and none is stored: node-postgres would look for one. */
class NoStoredPassword extends Error {
  readonly code = 'HINDSIGHT_NO_PASSWORD';
}

/**
 * Node-postgres calls a password function only when the server asks for a password, and then
 * uses what it returns instead of PGPASSWORD or ~/.pgpass.
 */
async function noStoredPassword(): Promise<string> {
  throw new NoStoredPassword('the server asks for a password and none is stored');
}

export function clientConfig(target: PgTarget): pg.ClientConfig {
  return {
    host: target.host,
    port: target.port,
    database: target.database,
    user: target.user,
    password: target.password ?? noStoredPassword,
    // false, not undefined: undefined makes node-postgres read PGSSLMODE from the environment.
    ssl:
      target.sslmode && !['disable', 'allow', 'prefer'].includes(target.sslmode)
        ? { rejectUnauthorized: target.sslmode === 'verify-full' || target.sslmode === 'verify-ca' }
        : false,
    connectionTimeoutMillis: 10_000,
    application_name: 'hindsight',
  };
}

/** Turns a driver error into one that names the database and the fix. */
export function explainConnectionError(label: string, target: PgTarget, error: unknown): HindsightError {
  const err = error as { code?: string; message?: string };
  const where = `${target.host}:${target.port}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return new HindsightError(
        'unreachable',
        `database "${label}" is unreachable at ${where} (connection refused): check that PostgreSQL is running and listening there`,
        { cause: error },
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new HindsightError(
        'unreachable',
        `database "${label}": host "${target.host}" cannot be resolved (check the host name)`,
        { cause: error },
      );
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new HindsightError(
        'unreachable',
        `database "${label}" is unreachable at ${where} (${err.code}): check the network path and firewall`,
        { cause: error },
      );
    case 'HINDSIGHT_NO_PASSWORD':
      return new HindsightError(
        'access_denied',
        `database "${label}": the server at ${where} asks user "${target.user}" for a password and none is saved for this database: give it with --password-file <file> (or in the URL); PGPASSWORD and ~/.pgpass are never used for it`,
        { cause: error },
      );
    case '28P01':
      return new HindsightError(
        'access_denied',
        `database "${label}": password authentication failed for user "${target.user}" (check the password saved for this database)`,
        { cause: error },
      );
    case '28000':
      return new HindsightError(
        'access_denied',
        `database "${label}": the server rejected user "${target.user}" (${err.message}; check pg_hba.conf and the role)`,
        { cause: error },
      );
    case '3D000':
      return new HindsightError(
        'not_found',
        `database "${label}": database "${target.database}" does not exist on ${where} (check the database name)`,
        { cause: error },
      );
    case '57P03':
      return new HindsightError('busy', `database "${label}" at ${where} is starting up or shutting down; will retry`, {
        cause: error,
      });
    case '53300':
      return new HindsightError('busy', `database "${label}" at ${where} has too many connections; will retry`, {
        cause: error,
      });
    default:
      if (/timeout/i.test(err.message ?? '')) {
        return new HindsightError(
          'unreachable',
          `database "${label}" did not answer at ${where} within 10 s: check the network path`,
          { cause: error },
        );
      }
      return new HindsightError('tool_failed', `database "${label}" at ${where}: ${err.message ?? String(error)}`, {
        cause: error,
      });
  }
}

/** `extra`: connection parameters of a special session, e.g. `replication` (which node-postgres's types omit). */
export async function connect(
  label: string,
  target: PgTarget,
  extra: pg.ClientConfig & { replication?: string } = {},
): Promise<pg.Client> {
  const client = new pg.Client({ ...clientConfig(target), ...extra });
  client.on('error', () => {
    /* reported through the failing query */
  });
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw explainConnectionError(label, target, error);
  }
}

export interface ServerInfo {
  versionNum: number;
  major: number;
  version: string;
  sizeBytes: number;
}

export async function serverInfo(client: pg.Client): Promise<ServerInfo> {
  const { rows } = await client.query<{ num: string; version: string; size: string }>(
    "select current_setting('server_version_num') as num, current_setting('server_version') as version, pg_database_size(current_database())::text as size",
  );
  const row = rows[0]!;
  const num = Number(row.num);
  return { versionNum: num, major: Math.floor(num / 10000), version: row.version, sizeBytes: Number(row.size) };
}

/** Double-quotes an identifier (PostgreSQL docs 4.1.1). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
