/** `hindsight db …`: the databases Hindsight backs up. */
import { printJson, printTable } from '../output.ts';
import { backupRoleCommand, printBackupRoleOffer } from '../hooks.ts';
import { runDbOverdue } from '../notifiers.ts';
import { runPitrCommand } from '../pitr.ts';
import { nameList, sessionAs } from '../session.ts';
import type { Command, Invocation } from './types.ts';

async function addDatabase({ args: [name], flags }: Invocation): Promise<void> {
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

async function listDatabases({ flags }: Invocation): Promise<void> {
  const dbs = await sessionAs(flags.as)(({ services, actor }) => services.databases.list(actor));
  if (flags.json) printJson(dbs);
  else if (dbs.length === 0)
    process.stdout.write('no databases: add one with hindsight db add <name> --url postgres://…\n');
  else
    printTable(
      dbs.map((d) => ({
        name: d.name,
        connection: `${d.username}@${d.host}:${d.port}/${d.dbname}`,
        storage: d.storageNames.join(', '),
        schedule: d.schedule ? `${d.schedule} (${d.timezone})` : '-',
      })),
    );
}

async function scheduleDatabase({ args: [name, cron], flags }: Invocation): Promise<void> {
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

async function setStorages({ args: [name, storages], flags }: Invocation): Promise<void> {
  const record = await sessionAs(flags.as)(({ services, actor }) =>
    services.databases.setDestinations(actor, name!, nameList(storages!)),
  );
  if (flags.json) printJson(record);
  else process.stdout.write(`database "${name}" backs up to ${record.storageNames.join(', ')}\n`);
}

async function removeDatabase({ args: [name], flags }: Invocation): Promise<void> {
  await sessionAs(flags.as)(({ services, actor }) => services.databases.remove(actor, name!));
  if (flags.json) printJson({ removed: name });
  else process.stdout.write(`database "${name}" removed (its backups stay in storage)\n`);
}

const db = { name: 'db' };

export const dbCommands: Command[] = [
  {
    words: ['db', 'add'],
    args: [{ name: 'name' }],
    summary: 'registers a database and checks that it can be backed up',
    flags: [
      { name: 'url', required: true },
      'storage',
      'schedule',
      'timezone',
      { name: 'no-check', description: 'save without connecting to the database' },
      { name: 'workspace', description: 'the workspace it belongs to (default: "default")' },
    ],
    handler: addDatabase,
  },
  {
    words: ['db', 'list'],
    args: [],
    flags: [],
    summary: 'the registered databases: connection, storages, schedule',
    handler: listDatabases,
  },
  {
    words: ['db', 'storages'],
    args: [db, { name: 'storage[,storage...]' }],
    flags: [],
    summary: 'where its backups go (every backup is written to each)',
    handler: setStorages,
  },
  {
    words: ['db', 'schedule'],
    args: [db, { name: 'cron | off' }],
    flags: ['timezone'],
    summary: 'backs the database up on a cron (five fields), or no longer',
    handler: scheduleDatabase,
  },
  {
    words: ['db', 'remove'],
    args: [db],
    flags: [],
    summary: 'removes the database from the catalog (its backups stay in storage)',
    handler: removeDatabase,
  },
  {
    words: ['db', 'role-check'],
    args: [db],
    flags: ['pitr'],
    summary: 'is the configured role read-only? every reason why not (exit 1 when not)',
    handler: ({ positionals, flags }) =>
      backupRoleCommand('role-check', positionals.slice(2), flags, flags.json, sessionAs(flags.as)),
  },
  {
    words: ['db', 'create-backup-role'],
    args: [db],
    summary: 'creates a read-only role and switches the database to it',
    flags: [{ name: 'role', description: "the new role's name" }, 'pitr', 'admin-url'],
    handler: ({ positionals, flags }) =>
      backupRoleCommand('create-backup-role', positionals.slice(2), flags, flags.json, sessionAs(flags.as)),
  },
  {
    words: ['db', 'overdue'],
    args: [db, { name: 'hours | off' }],
    flags: [],
    summary: 'alert (backup_overdue) when no backup completed for that long',
    handler: ({ positionals, flags }) =>
      runDbOverdue(positionals.slice(2), { json: flags.json, flags, withSession: sessionAs(flags.as) }),
  },
  {
    words: ['db', 'pitr'],
    args: [db, { name: 'on | off' }],
    summary:
      'on: streams WAL and takes a first base backup; off: stops streaming and drops the replication slot (archived WAL stays)',
    flags: ['slot-max-mb', 'base-schedule', 'agent', 'standby', 'base-full-every'],
    handler: ({ positionals, flags }) => runPitrCommand('db pitr', positionals.slice(2), flags, sessionAs(flags.as)),
  },
];
