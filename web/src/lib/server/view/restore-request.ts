/**
 * The restore wizard's last form, turned into a request for the one restore starter
 * (services/restores/start.ts). Pure: the page builds the request and hands it to the service.
 */
import { z } from 'zod';
import { HindsightError, errorMessage } from '../../../../../lib/errors.ts';
import { NAME_PATTERN } from '../../../../../lib/names.ts';
import type { LogicalTarget, RestoreRequest } from '../../../../../services/restores/start.ts';
import { zonedToRfc3339 } from '../../../../../services/restores/zoned-time.ts';
import type { RestoreStartInput } from './setup-types.ts';

/** The new database's name: what `CREATE DATABASE` will get, so it must be a plain identifier. */
const newDatabaseName = z
  .string()
  .trim()
  .regex(
    /^[a-z_][a-z0-9_]{0,62}$/,
    'target database name must be lowercase letters, digits or "_" (at most 63), starting with a letter',
  );

function logicalTarget(to: RestoreStartInput['to']): LogicalTarget {
  if (to.kind === 'new') {
    const parsed = newDatabaseName.safeParse(to.name);
    if (!parsed.success)
      throw new HindsightError('bad_input', `target: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    return { database: parsed.data };
  }
  if (to.kind === 'url') {
    if (to.url.trim() === '')
      throw new HindsightError('bad_input', 'target URL: give a postgres:// connection URL of an empty database');
    return { url: to.url.trim() };
  }
  throw new HindsightError(
    'bad_input',
    'target: a restore from a backup goes into a new database or an existing connection URL (a directory or sandbox needs a point in time)',
  );
}

/** With owners: the roles the target lacks are created; privileged ones only when asked (the service authorises it). */
function owners(to: RestoreStartInput['to']): { withOwners?: true; privilegedRoles?: true } {
  if (to.kind !== 'url' || !to.withOwners) {
    if (to.kind === 'url' && to.privilegedRoles)
      throw new HindsightError('bad_input', '"with privileged roles" applies only with "with owners"');
    return {};
  }
  return { withOwners: true, ...(to.privilegedRoles ? { privilegedRoles: true as const } : {}) };
}

function pointInTime(source: RestoreStartInput['source']) {
  if (source.kind !== 'pitr') return 'latest' as const;
  try {
    return { time: zonedToRfc3339(source.time, source.timezone).rfc3339 };
  } catch (error) {
    throw new HindsightError('bad_input', `target time: ${errorMessage(error)}`);
  }
}

export function restoreRequest(input: RestoreStartInput): RestoreRequest {
  if (!NAME_PATTERN.test(input.database))
    throw new HindsightError('bad_input', 'database: choose a registered database');
  // The server checks the typed name too: a form replayed without it must not restore anything.
  if (input.confirm.trim() !== input.database) {
    throw new HindsightError(
      'bad_input',
      `confirmation: type the database's name "${input.database}" exactly to start the restore`,
    );
  }
  if (input.source.kind === 'backup') {
    const backupId =
      input.source.backupId === 'newest' || input.source.backupId === '' ? undefined : input.source.backupId;
    const to = logicalTarget(input.to);
    return { database: input.database, ...(backupId ? { backupId } : {}), to, ...owners(input.to) };
  }
  const target = pointInTime(input.source);
  if (input.to.kind === 'directory') {
    const to = {
      directory: input.to.directory.trim(),
      ...(input.to.agent ? { agent: input.to.agent.trim() } : {}),
      ...(input.to.thenStop ? { thenStop: true } : {}),
    };
    return { database: input.database, pointInTime: target, to, requireArchiving: true };
  }
  if (input.to.kind === 'sandbox')
    return { database: input.database, pointInTime: target, to: { sandbox: true }, requireArchiving: true };
  if (input.to.kind === 'url') {
    const { url } = logicalTarget(input.to) as { url: string };
    return { database: input.database, pointInTime: target, to: { url, ...owners(input.to) }, requireArchiving: true };
  }
  throw new HindsightError(
    'bad_input',
    'target: a point-in-time restore goes into an empty directory on an agent, a sandbox, or another server by URL',
  );
}
