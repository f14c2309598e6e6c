/** `hindsight catalog backup` and `catalog restore`: the catalog's own backups (docs/disaster-recovery.md). */
import { commandsFrom } from './types.ts';

const command = commandsFrom(() => import('../handlers/catalog-backup.ts'));

export const catalogBackupCommands = [
  command(
    'catalog backup',
    'backs up the catalog now to every storage that holds backups (instance owner or operator)',
    'catalogBackupNow',
    {
      flags: [
        {
          name: 'wait',
          description: 'wait for it and print the id and where it went (exit 1 when a storage missed it)',
        },
      ],
    },
  ),
  command(
    'catalog restore',
    'restores the catalog of a lost installation from a storage, into this empty one; re-creates schedules',
    'catalogRestore',
    {
      local: true,
      flags: [
        { name: 'storage-config', required: true },
        {
          name: 'key',
          description: "the key file the catalog backup was encrypted with (default: this installation's keys)",
        },
        { name: 'id', description: 'the catalog backup to restore (hindsight-catalog/<id>.json)' },
        'newest',
      ],
      details: [
        'The catalog must be empty: no database, backup, user account or notifier yet (a fresh installation).',
        'Run it with the Temporal server up: the schedules and WAL archiving of the restored',
        'databases are started again, then restart Hindsight so that every process starts from the restored catalog.',
      ],
    },
  ),
];
