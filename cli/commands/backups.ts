/** `hindsight backup`, `backups`, `backup-copy`, `download` and `retention`: logical backups. */
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
      { name: 'policy', description: 'the policy to plan with (or save); default: the saved one' },
      'save',
      'run',
      { name: 'wait', description: 'with --run, wait for it and print what was deleted' },
    ],
  }),
  command('download', 'the pg_dump archive (or the stored object), checksum-verified', 'download', {
    args: [backupId],
    flags: [{ name: 'output', required: true }, 'encrypted'],
  }),
  command('backup-copy', 'copies a partial backup into the storages it missed', 'backupCopy', {
    args: [backupId],
    flags: ['wait'],
  }),
];
