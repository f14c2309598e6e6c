/** `hindsight db …`: the databases Hindsight backs up. */
import type { FlagUse } from '../command-table.ts';
import type { FlagName } from '../flags.ts';
import { commandsFrom, dbArg } from './types.ts';

const command = commandsFrom(() => import('../handlers/db.ts'));
const showCommand = commandsFrom(() => import('../handlers/db-show.ts'));
const drillCommand = commandsFrom(() => import('../handlers/db-drill.ts'));

/** The PITR settings `db pitr <db> on` and `server pitr <server> on` take. */
export const pitrSettingFlags: Array<FlagUse<FlagName>> = [
  'slot-max-mb',
  'slot-over-limit',
  'synchronous',
  'asynchronous',
  'base-schedule',
  'standby',
  'base-full-every',
];

/** What each flag of `db update` changes, where it means something else than for `db add`; a flag not given keeps its setting. */
const changeDescriptions: Partial<Record<FlagName, string>> = {
  name: 'rename it; its backups stay attached and keep their keys in storage (refused while PITR is on)',
  url: 'connect here instead (without a password in it, the stored one stays for the same host and port)',
  'password-file': 'the new password (its trailing newline dropped)',
  storage: 'where its next backups go; earlier backups keep their copies',
  schedule: 'back up on this cron (five fields), or off',
  timezone: 'time zone of the cron',
  'no-check': 'save a new URL or password without connecting with it',
};
const changeFlags = Object.entries(changeDescriptions).map(([name, description]): FlagUse<FlagName> => ({
  name: name as FlagName,
  description,
}));

export const dbCommands = [
  command(
    'db add',
    'registers a database, checks that it can be backed up, and takes back its earlier backups found in its storages',
    'addDatabase',
    {
      args: [{ name: 'name' }],
      flags: [
        { name: 'url', required: true },
        {
          name: 'password-file',
          description: 'the password (its trailing newline dropped), for a URL without one; checked by connecting',
        },
        'storage',
        'schedule',
        'timezone',
        {
          name: 'no-check',
          description: 'save without connecting to the database (earlier backups are then matched by names only)',
        },
        'jobs',
        'encryption',
        'workspace',
      ],
    },
  ),
  command(
    'db update',
    'changes its name, connection, password, storages, schedule, parallel dump jobs, encryption, verification, health checks or restore drill',
    'updateDatabase',
    {
      args: [dbArg],
      flags: [
        ...changeFlags,
        'verify',
        'health-interval',
        'health-failures',
        'jobs',
        'encryption',
        'restore-drill-target',
        'restore-drill-cron',
      ],
    },
  ),
  drillCommand(
    'db drill',
    'restores the newest complete backup into a fresh database on the restore drill target, times and checks it, then drops it',
    'drillDatabase',
    {
      args: [dbArg],
      flags: [{ name: 'wait', description: 'wait for the drill and print its outcome (exit 1 unless successful)' }],
    },
  ),
  drillCommand('db drills', "the database's restore drills: time to usable, size, tables checked", 'listDrills', {
    args: [dbArg],
  }),
  command('db list', 'the registered databases: connection, storages, schedule', 'listDatabases'),
  showCommand(
    'db show',
    'one database: its settings, the next runs of its schedule, the newest backups, the PITR window',
    'showDatabase',
    { args: [dbArg] },
  ),
  command('db storages', 'where its backups go (every backup is written to each)', 'setStorages', {
    args: [dbArg, { name: 'storage[,storage...]' }],
  }),
  command('db schedule', 'backs the database up on a cron (five fields), or no longer', 'scheduleDatabase', {
    args: [dbArg, { name: 'cron | off' }],
    flags: ['timezone'],
  }),
  command(
    'db remove',
    'removes the database from the catalog (with PITR on, streaming stops and its replication slot is dropped first); keep or delete its backups (asked on a terminal, kept without one)',
    'removeDatabase',
    {
      args: [dbArg],
      flags: [
        'keep-backups',
        {
          name: 'delete-backups',
          description:
            'delete its backups from every storage holding a copy (refused while PITR is on: hindsight db pitr <db> off first)',
        },
      ],
    },
  ),
  command('db role-check', 'is the configured role read-only? every reason why not (exit 1 when not)', 'dbRoleCheck', {
    args: [dbArg],
    flags: ['pitr'],
  }),
  command('db create-backup-role', 'creates a read-only role and switches the database to it', 'dbCreateBackupRole', {
    args: [dbArg],
    flags: [{ name: 'role', description: "the new role's name" }, 'pitr', 'admin-url'],
  }),
  command('db overdue', 'alert (backup_overdue) when no backup completed for that long', 'dbOverdue', {
    args: [dbArg, { name: 'hours | off' }],
  }),
  command(
    'db pitr',
    'on: streams WAL and takes a first base backup (a database whose server another database already archives joins that archive); off: stops streaming and drops the replication slot (archived WAL stays), or leaves a shared archive',
    'dbPitr',
    {
      args: [dbArg, { name: 'on | off' }],
      flags: [...pitrSettingFlags, 'agent'],
    },
  ),
];
