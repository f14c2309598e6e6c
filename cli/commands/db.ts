/** `hindsight db …`: the databases Hindsight backs up. */
import { lazy, type Command } from './types.ts';

const load = () => import('../handlers/db.ts');

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
    handler: lazy(load, 'addDatabase'),
  },
  {
    words: ['db', 'list'],
    args: [],
    flags: [],
    summary: 'the registered databases: connection, storages, schedule',
    handler: lazy(load, 'listDatabases'),
  },
  {
    words: ['db', 'show'],
    args: [db],
    flags: [],
    summary: 'one database: its settings, the next runs of its schedule, the newest backups, the PITR window',
    handler: lazy(() => import('../handlers/db-show.ts'), 'showDatabase'),
  },
  {
    words: ['db', 'storages'],
    args: [db, { name: 'storage[,storage...]' }],
    flags: [],
    summary: 'where its backups go (every backup is written to each)',
    handler: lazy(load, 'setStorages'),
  },
  {
    words: ['db', 'schedule'],
    args: [db, { name: 'cron | off' }],
    flags: ['timezone'],
    summary: 'backs the database up on a cron (five fields), or no longer',
    handler: lazy(load, 'scheduleDatabase'),
  },
  {
    words: ['db', 'remove'],
    args: [db],
    flags: [],
    summary: 'removes the database from the catalog (its backups stay in storage)',
    handler: lazy(load, 'removeDatabase'),
  },
  {
    words: ['db', 'role-check'],
    args: [db],
    flags: ['pitr'],
    summary: 'is the configured role read-only? every reason why not (exit 1 when not)',
    handler: lazy(load, 'dbRoleCheck'),
  },
  {
    words: ['db', 'create-backup-role'],
    args: [db],
    summary: 'creates a read-only role and switches the database to it',
    flags: [{ name: 'role', description: "the new role's name" }, 'pitr', 'admin-url'],
    handler: lazy(load, 'dbCreateBackupRole'),
  },
  {
    words: ['db', 'overdue'],
    args: [db, { name: 'hours | off' }],
    flags: [],
    summary: 'alert (backup_overdue) when no backup completed for that long',
    handler: lazy(load, 'dbOverdue'),
  },
  {
    words: ['db', 'pitr'],
    args: [db, { name: 'on | off' }],
    summary:
      'on: streams WAL and takes a first base backup; off: stops streaming and drops the replication slot (archived WAL stays)',
    flags: ['slot-max-mb', 'base-schedule', 'agent', 'standby', 'base-full-every'],
    handler: lazy(load, 'dbPitr'),
  },
];
