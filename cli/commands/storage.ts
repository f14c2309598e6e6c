/** `hindsight storage …`: where backups are written. */
import { lazy, type Command } from './types.ts';

const load = () => import('../handlers/storage.ts');

const storage = { name: 'name' };

export const storageCommands: Command[] = [
  {
    words: ['storage', 'add'],
    args: [storage],
    summary: 'saves a storage after writing, reading back and deleting a small object',
    details: ['--type local --path <directory>, or --config for any type: s3, azure, sftp, ftp, rclone, local'],
    flags: [
      { name: 'type', description: 'local (other types through --config)' },
      'path',
      {
        name: 'config',
        description: "the storage's configuration as JSON (any type), or @file to keep secrets out of shell history",
      },
      { name: 'no-check', description: 'save without the connection test' },
      { name: 'workspace', description: 'the workspace it belongs to' },
    ],
    handler: lazy(load, 'addStorage'),
  },
  {
    words: ['storage', 'test'],
    args: [storage],
    flags: [],
    summary: 'writes, reads back and deletes a small object (exit 1 on failure)',
    handler: lazy(load, 'testStorage'),
  },
  {
    words: ['storage', 'list'],
    args: [],
    flags: [],
    summary: 'the storages: name, type, where',
    handler: lazy(load, 'listStorages'),
  },
  {
    words: ['storage', 'remove'],
    args: [storage],
    flags: [],
    summary: 'removes the storage from the catalog (its objects are untouched)',
    handler: lazy(load, 'removeStorage'),
  },
];
