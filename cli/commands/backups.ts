/** `hindsight backup`, `backups`, `backups copy`, `backups delete`, `download` and `retention`: logical backups. */
import { commandsFrom, dbArg } from './types.ts';

const command = commandsFrom(() => import('../handlers/backups.ts'));

const backupId = { name: 'backup-id' };

export const backupCommands = [
  command('backup', 'a logical backup now; prints the backup id', 'backupNow', {
    args: [dbArg],
    flags: [
      {
        name: 'wait',
        description:
          'wait for the backup and the verification that follows it; print status, size, rows, copies and the verdict (exit 1 when a copy or the verification failed)',
      },
    ],
  }),
  command('backups', 'the backups: id, time, size, status, copies, verification', 'listBackups', { args: [dbArg] }),
  command('retention', 'what the policy keeps and deletes, and why (a dry run unless --save or --run)', 'retention', {
    args: [dbArg],
    flags: [
      {
        name: 'policy',
        description:
          'the policy to plan with (or save); default: the saved one. With --storage it is the policy of the copies on that storage (off: follow the database)',
      },
      {
        name: 'storage',
        description: 'a storage of the database: --policy sets the policy applied to the copies on it alone',
      },
      'save',
      'run',
      { name: 'wait', description: 'with --run, wait for it and print what was deleted' },
    ],
  }),
  command('download', 'the pg_dump archive (or the stored object), checksum-verified', 'download', {
    args: [backupId],
    flags: [{ name: 'output', required: true }, 'encrypted'],
  }),
  command('backups copy', 'copies a backup into other storages, without dumping again', 'backupCopy', {
    args: [{ ...backupId, optional: true }],
    flags: [
      {
        name: 'to',
        value: 'storage[,storage...]',
        description: "storages of the database's workspace to copy into (default: those the backup missed)",
      },
      {
        name: 'database',
        value: 'db',
        description: 'instead of one backup: every complete or partial backup of <db> that the --to storage lacks',
      },
      'wait',
    ],
    details: [
      'The stored (encrypted) object is copied from a storage that holds it whole and checked against its SHA-256.',
      'A storage that already holds the backup whole is refused; so is a storage of another workspace.',
      'hindsight backups copy --database <db> --to <storage> copies older backups into a storage added later:',
      'one replicateBackup run per backup.',
    ],
  }),
  command(
    'backups delete',
    'deletes one backup from every storage holding a copy, then from the catalog',
    'backupDelete',
    {
      args: [backupId],
      flags: [
        { name: 'dry-run', description: 'say which storages hold it and whether it may go; delete nothing' },
        { name: 'reason', description: 'recorded with the deletion and in the audit log' },
      ],
      details: [
        'Refused, with nothing removed, while the backup is running, restored or verified,',
        'and while a storage locks it (S3 Object Lock): the refusal names the storage and the date.',
        'Needs the admin role in the workspace of its database; audited.',
      ],
    },
  ),
];
