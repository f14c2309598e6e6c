/** `hindsight restore`, and the PITR jobs beside it: `base-backup`, `wal-status`, `wal-fetch`. */
import type { FlagUse } from '../command-table.ts';
import type { FlagName } from '../flags.ts';
import { commandsFrom, dbArg } from './types.ts';

const command = commandsFrom(() => import('../handlers/restore.ts'));

/** The targets of a point-in-time restore: exactly one is given. */
export const pointInTimeTargets: Array<FlagUse<FlagName>> = [
  'time',
  'lsn',
  'xid',
  { name: 'name', description: 'point-in-time target: a restore point' },
  'latest',
  'immediate',
];

export const restoreCommands = [
  command('restore', 'a logical restore of a backup, or a point-in-time restore from the WAL archive', 'restore', {
    args: [dbArg],
    details: [
      'logical: [--backup <id>] (--to <postgres-url> | --to-database <name>) [--with-owners [--with-privileged-roles]] [--wait]',
      'logical, here with an identity file: --identity <file> [--backup <id>] (--to <postgres-url> | --to-database <name>) [--with-owners [--with-privileged-roles]]',
      'point in time: (--time | --lsn | --xid | --name | --latest | --immediate) (--to <empty directory> [--agent <name>] [--then-stop] | --to <postgres-url> [--with-owners [--with-privileged-roles]] | --to-sandbox) [--wait]',
    ],
    flags: [
      { name: 'backup', description: 'logical: this backup instead of the newest' },
      {
        name: 'identity',
        description:
          'logical: restore in this process with the identity file (public-key mode): the private key stays on this host, out of workflows, the catalog and logs',
      },
      {
        name: 'to',
        description:
          'logical: the postgres:// URL to restore into; point in time: an empty directory, or a postgres:// URL to extract the one database into',
      },
      {
        name: 'to-database',
        description: "logical: a new or empty database on the source's server (created when missing)",
      },
      {
        name: 'with-owners',
        description:
          "logical or point in time into a URL: create the roles the target lacks from the backup's (or recovered cluster's) roles (no passwords), then keep owners and grants",
      },
      {
        name: 'with-privileged-roles',
        description: 'with --with-owners: restored roles keep SUPERUSER, REPLICATION, BYPASSRLS (instance owner only)',
      },
      ...pointInTimeTargets,
      'to-sandbox',
      { name: 'agent', description: 'point in time: the agent that restores into the directory on its host' },
      'then-stop',
      { name: 'wait', description: 'wait for the restore and print its outcome' },
    ],
  }),
  command('base-backup', 'a physical base backup now (PITR); prints its id', 'takeBaseBackup', {
    args: [dbArg],
    flags: [{ name: 'wait', description: 'wait for it and print its WAL range and size' }],
  }),
  command('wal-status', 'newest WAL in storage and its age, slot retention, archiver, last base backup', 'walStatus', {
    args: [dbArg],
  }),
  // Both arguments are optional to the parser: wal-fetch answers a missing one itself, with an
  // exit code above 125 so that recovery aborts rather than take it for the archive's end.
  command(
    'wal-fetch',
    "PostgreSQL's restore_command: exit 0 fetched, 1 not archived, 250 any other failure",
    'walFetch',
    {
      args: [
        { name: 'wal file', optional: true },
        { name: 'path', optional: true },
      ],
      local: true,
      flags: ['socket', 'database'],
    },
  ),
];
