/** `hindsight backup`, `backups`, `backup-copy`, `download` and `retention`: logical backups. */
import { lazy, type Command } from './types.ts';

const load = () => import('../handlers/backups.ts');

const db = { name: 'db' };

export const backupCommands: Command[] = [
  {
    words: ['backup'],
    args: [db],
    flags: ['wait'],
    summary: 'a logical backup now; prints the backup id',
    handler: lazy(load, 'backupNow'),
  },
  {
    words: ['backups'],
    args: [db],
    flags: [],
    summary: 'the backups: id, time, size, status, copies, verification',
    handler: lazy(load, 'listBackups'),
  },
  {
    words: ['retention'],
    args: [db],
    summary: 'what the policy keeps and deletes, and why (a dry run unless --save or --run)',
    flags: [
      { name: 'policy', description: 'the policy to plan with (or save); default: the saved one' },
      'save',
      'run',
      { name: 'wait', description: 'with --run, wait for it and print what was deleted' },
    ],
    handler: lazy(load, 'retention'),
  },
  {
    words: ['download'],
    args: [{ name: 'backup-id' }],
    summary: 'the pg_dump archive (or the stored object), checksum-verified',
    flags: [{ name: 'output', required: true }, 'encrypted'],
    handler: lazy(load, 'download'),
  },
  {
    words: ['backup-copy'],
    args: [{ name: 'backup-id' }],
    flags: ['wait'],
    summary: 'copies a partial backup into the storages it missed',
    handler: lazy(load, 'backupCopy'),
  },
];
