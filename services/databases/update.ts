/** The connection a database update leads to, and the test it passes before anything is saved. */
import type { Catalog, DatabaseRecord } from '../../lib/catalog/catalog.ts';
import { HindsightError } from '../../lib/errors.ts';
import { readSystemIdentifier } from '../../lib/backup/adopt-match.ts';
import { connect, parsePgUrl, serverInfo, type PgTarget } from '../../lib/pg/connection.ts';
import { SECRET_MARK } from '../audit-mask.ts';
import { checkTarget } from './check.ts';
import { databaseSettings, type DatabaseChanges } from './input.ts';

/** The connection after the change, or undefined when neither the URL nor the password changes. */
export async function changedTarget(
  catalog: Pick<Catalog, 'databaseTarget'>,
  name: string,
  changes: DatabaseChanges,
): Promise<PgTarget | undefined> {
  if (changes.url === undefined && changes.password === undefined) return undefined;
  const stored = await catalog.databaseTarget(name);
  const target = changes.url === undefined ? stored : parsePgUrl(changes.url);
  const password = changes.password ?? target.password;
  if (password !== undefined) return { ...target, password };
  // The stored password goes only where it was given for: sent to another server (by the connection
  // test or a backup), it would reach whoever runs that server.
  if (stored.password !== undefined && (target.host !== stored.host || target.port !== stored.port)) {
    throw new HindsightError(
      'bad_input',
      `database "${name}": the connection moves from ${stored.host}:${stored.port} to ${target.host}:${target.port}; ` +
        'give its password again (--password-file, or in the URL): the stored one is only ever sent to the server it was given for',
    );
  }
  return { ...target, password: stored.password };
}

/** Refuses a connection that does not work, naming the database and what to do about it. */
export async function assertConnects(name: string, target: PgTarget): Promise<void> {
  const check = await checkTarget(target);
  if (check.ok) return;
  throw new HindsightError(
    'bad_input',
    `database "${name}": cannot connect as "${target.user}" to ${target.host}:${target.port}/${target.database} (${check.detail}); ` +
      'nothing was changed: correct the URL or password, or pass --no-check (skipCheck) to save it anyway',
  );
}

/** The audit log's view of a database: its name and settings, and only whether it has a password. */
export function auditedSettings(d: DatabaseRecord): Record<string, unknown> {
  return { name: d.name, ...databaseSettings(d), password: d.hasPassword ? SECRET_MARK : null };
}

/**
 * Connects as a backup would (a failure says why, naming the database) and returns the server's
 * system identifier, which tells its backups from those of another server; undefined when the
 * role may not read it.
 */
export async function serverIdentity(name: string, target: PgTarget): Promise<string | undefined> {
  const client = await connect(name, target);
  try {
    await serverInfo(client);
    return await readSystemIdentifier(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
