/** What the commands of cli/commands/db.ts do when they run: loaded only then, so that the table and `--help` stay light. */
import { readPassword } from '../access.ts';
import { printJson, printList, UsageError } from '../output.ts';
import { backupRoleCommand, printBackupRoleOffer } from '../hooks.ts';
import { runDbOverdue } from '../notifiers.ts';
import { runPitrCommand } from '../pitr.ts';
import { nameList, sessionAs } from '../session.ts';
import type { Invocation, Handler } from '../commands/types.ts';

export async function addDatabase({ args: [name], flags }: Invocation): Promise<void> {
  const withSession = sessionAs(flags.as);
  const record = await withSession(async ({ services, access, actor }) =>
    services.databases.add(actor, {
      workspaceId: (await access.workspaceFor(actor, flags.workspace ?? 'default')).id,
      name: name!,
      url: flags.url!,
      storages: nameList(flags.storage ?? 'local'),
      schedule: flags.schedule ?? null,
      timezone: flags.timezone ?? 'UTC',
      skipCheck: flags['no-check'],
    }),
  );
  if (flags.json) printJson(record);
  else
    process.stdout.write(
      `database "${record.name}" added (storage ${record.storageNames.join(', ')}${record.schedule ? `, schedule "${record.schedule}" ${record.timezone}` : ''})\n`,
    );
  if (!flags.json && !flags['no-check']) await printBackupRoleOffer(name!, withSession);
}

export async function listDatabases({ flags }: Invocation): Promise<void> {
  const dbs = await sessionAs(flags.as, { temporal: false })(({ services, actor }) => services.databases.list(actor));
  printList(
    flags.json,
    dbs,
    (d) => ({
      name: d.name,
      connection: `${d.username}@${d.host}:${d.port}/${d.dbname}`,
      storage: d.storageNames.join(', '),
      schedule: d.schedule ? `${d.schedule} (${d.timezone})` : '-',
    }),
    'no databases: add one with hindsight db add <name> --url postgres://…',
  );
}

export async function scheduleDatabase({ args: [name, cron], flags }: Invocation): Promise<void> {
  const schedule = cron === 'off' ? null : cron!;
  const timezone = flags.timezone ?? 'UTC';
  await sessionAs(flags.as)(({ services, actor }) => services.databases.setSchedule(actor, name!, schedule, timezone));
  if (flags.json) printJson({ database: name, schedule, timezone });
  else
    process.stdout.write(
      schedule
        ? `database "${name}" is backed up at "${schedule}" (${timezone})\n`
        : `database "${name}" has no schedule now\n`,
    );
}

export async function setStorages({ args: [name, storages], flags }: Invocation): Promise<void> {
  const record = await sessionAs(flags.as)(({ services, actor }) =>
    services.databases.setDestinations(actor, name!, nameList(storages!)),
  );
  if (flags.json) printJson(record);
  else process.stdout.write(`database "${name}" backs up to ${record.storageNames.join(', ')}\n`);
}

export async function removeDatabase({ args: [name], flags }: Invocation): Promise<void> {
  await sessionAs(flags.as)(({ services, actor }) => services.databases.remove(actor, name!));
  if (flags.json) printJson({ removed: name });
  else process.stdout.write(`database "${name}" removed (its backups stay in storage)\n`);
}

export const dbRoleCheck: Handler = ({ positionals, flags }) =>
  backupRoleCommand('role-check', positionals.slice(2), flags, flags.json, sessionAs(flags.as));

export const dbCreateBackupRole: Handler = ({ positionals, flags }) =>
  backupRoleCommand('create-backup-role', positionals.slice(2), flags, flags.json, sessionAs(flags.as));

export const dbOverdue: Handler = ({ positionals, flags }) =>
  runDbOverdue(positionals.slice(2), { json: flags.json, flags, withSession: sessionAs(flags.as) });

export const dbPitr: Handler = ({ positionals, flags }) =>
  runPitrCommand('db pitr', positionals.slice(2), flags, sessionAs(flags.as));

/** `--verify on|off` as a boolean; anything else is a usage error. */
function onOff(flag: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'on' || value === 'off') return value === 'on';
  throw new UsageError(`--${flag} takes on or off, not "${value}"`);
}

const count = (value: string | undefined) => (value === undefined ? undefined : Number(value));

export async function updateDatabase({ args: [name], flags }: Invocation): Promise<void> {
  const password = flags['password-file'] === undefined ? undefined : await readPassword(flags['password-file']);
  const record = await sessionAs(flags.as)(({ services, actor }) =>
    services.databases.update(actor, name!, {
      url: flags.url,
      password,
      storages: flags.storage === undefined ? undefined : nameList(flags.storage),
      schedule: flags.schedule === undefined ? undefined : flags.schedule === 'off' ? null : flags.schedule,
      timezone: flags.timezone,
      verifyAfterBackup: onOff('verify', flags.verify),
      healthIntervalSeconds: count(flags['health-interval']),
      healthFailureThreshold: count(flags['health-failures']),
      skipCheck: flags['no-check'],
    }),
  );
  if (flags.json) printJson(record);
  else
    process.stdout.write(
      `database "${record.name}" updated: ${record.username}@${record.host}:${record.port}/${record.dbname}, storage ${record.storageNames.join(', ')} (its backups are unchanged)\n`,
    );
}
