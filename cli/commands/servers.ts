/** `hindsight server …`: PostgreSQL servers backed up as a whole (docs/servers.md). */
import type { FlagUse } from '../command-table.ts';
import type { FlagName } from '../flags.ts';
import { pitrSettingFlags } from './db.ts';
import { pointInTimeTargets } from './restore.ts';
import { commandsFrom } from './types.ts';

const command = commandsFrom(() => import('../handlers/servers.ts'));
const serverArg = { name: 'server' };

/** What a server's runs do; `server add` and `server update` take the same flags. */
const runFlags: Array<FlagUse<FlagName>> = [
  { name: 'storage', description: 'where the backups of the databases it registers go (server add: local by default)' },
  'timezone',
  'exclude',
  'include-postgres',
  'retention',
  { name: 'verify', description: 'restore every new backup of its databases into a throwaway server (default on)' },
];

export const serverCommands = [
  command(
    'server add',
    'registers a PostgreSQL server after connecting to it (its version and system identifier are recorded)',
    'addServer',
    {
      args: [{ name: 'name' }],
      flags: [
        { name: 'url', required: true, description: 'the server, as a URL to a database every run connects to' },
        { name: 'password-file', description: 'the password (its trailing newline dropped), for a URL without one' },
        'all-databases',
        { name: 'schedule', description: 'run on this cron (five fields): every database is backed up' },
        ...runFlags,
        'workspace',
      ],
      details: [
        "with --all-databases each run registers the server's new databases as <server>-<datname>, marks the ones it no longer has as dropped (their backups kept) and backs up every one, two at a time",
      ],
    },
  ),
  command('server list', 'the registered servers: address, identity, schedule, how many databases', 'listServers'),
  command(
    'server show',
    'one server: its settings, its databases (dropped ones marked), its last and next runs, its PITR window and drills',
    'showServer',
    {
      args: [serverArg],
    },
  ),
  command('server update', 'changes its schedule, storages, excludes, retention or flags', 'updateServer', {
    args: [serverArg],
    flags: [
      { name: 'schedule', description: 'run on this cron (five fields), or off' },
      'drill-schedule',
      { name: 'all-databases', description: 'start discovering its databases on each run' },
      'only-registered',
      ...runFlags,
    ],
  }),
  command(
    'server pitr',
    'on: one WAL archive for the whole cluster (slot, stream, chain monitor, base backups) that every database of the server shares, those discovered later too; off: stops streaming and drops the slot (the archive stays in storage)',
    'serverPitr',
    {
      args: [serverArg, { name: 'on | off' }],
      flags: pitrSettingFlags,
      details: [
        "a database that archived the cluster alone before (hindsight db pitr <db> on) is taken over: its slot, stream and base backups carry on as the server's",
      ],
    },
  ),
  command(
    'server restore',
    "the whole cluster at a point in time, from the server's archive (one database into another server: hindsight restore <db> --time … --to <postgres-url>)",
    'restoreServer',
    {
      args: [serverArg],
      flags: [
        ...pointInTimeTargets,
        { name: 'to', description: 'an empty directory the recovered cluster is written to' },
        'to-sandbox',
        { name: 'agent', description: 'the agent that restores into the directory on its host' },
        'then-stop',
        { name: 'wait', description: 'wait for the restore and print its outcome' },
      ],
    },
  ),
  command(
    'server drill',
    "a PITR drill now: the server's archive restored into a sandbox to a random time inside each recoverable window and to the newest point, each checked (target reached, pg_verifybackup, pg_amcheck) and recorded",
    'drillServer',
    {
      args: [serverArg],
      flags: [{ name: 'wait', description: 'wait for the drill and print each restore and the proven-up-to time' }],
      details: ['a failed drill exits 1 and queues a pitr_drill_failed notification'],
    },
  ),
  command('server run', 'runs it now: discovery, then a backup of every database', 'runServer', {
    args: [serverArg],
    flags: ['wait'],
  }),
  command(
    'server remove',
    'removes the server and its schedule, and its databases unless --keep-databases (their backups stay in storage)',
    'removeServer',
    { args: [serverArg], flags: ['keep-databases'] },
  ),
];
