/** `hindsight restore`, and the PITR jobs beside it: `base-backup`, `wal-status`, `wal-fetch`. */
import { lazy, type Command } from './types.ts';

const load = () => import('../handlers/restore.ts');

const db = { name: 'db' };

export const restoreCommands: Command[] = [
  {
    words: ['restore'],
    args: [db],
    summary: 'a logical restore of a backup, or a point-in-time restore from the WAL archive',
    details: [
      'logical: [--backup <id>] (--to <postgres-url> | --to-database <name>) [--wait]',
      'point in time: (--time | --lsn | --xid | --name | --latest | --immediate) (--to <empty directory> [--agent <name>] | --to-sandbox) [--wait]',
    ],
    flags: [
      { name: 'backup', description: 'logical: this backup instead of the newest' },
      { name: 'to', description: 'logical: the postgres:// URL to restore into; point in time: an empty directory' },
      { name: 'to-database', description: 'logical: a registered database to restore into' },
      'time',
      'lsn',
      'xid',
      { name: 'name', description: 'point-in-time target: a restore point' },
      'latest',
      'immediate',
      'to-sandbox',
      { name: 'agent', description: 'point in time: the agent that restores into the directory on its host' },
      { name: 'wait', description: 'wait for the restore and print its outcome' },
    ],
    handler: lazy(load, 'restore'),
  },
  {
    words: ['base-backup'],
    args: [db],
    flags: [{ name: 'wait', description: 'wait for it and print its WAL range and size' }],
    summary: 'a physical base backup now (PITR); prints its id',
    handler: lazy(load, 'takeBaseBackup'),
  },
  {
    words: ['wal-status'],
    args: [db],
    flags: [],
    summary: 'newest WAL in storage and its age, slot retention, archiver, last base backup',
    handler: lazy(load, 'walStatus'),
  },
  {
    // Both arguments are optional to the parser: wal-fetch answers a missing one itself, with an
    // exit code above 125 so that recovery aborts rather than take it for the archive's end.
    words: ['wal-fetch'],
    args: [
      { name: 'wal file', optional: true },
      { name: 'path', optional: true },
    ],
    local: true,
    summary: "PostgreSQL's restore_command: exit 0 fetched, 1 not archived, 250 any other failure",
    flags: ['socket', 'database'],
    handler: lazy(load, 'walFetch'),
  },
];
