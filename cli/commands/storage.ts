/** `hindsight storage …`: where backups are written. */
import { belongsToWorkspace, changeFlags } from '../flags.ts';
import { commandsFrom } from './types.ts';

const command = commandsFrom(() => import('../handlers/storage.ts'));

const storage = { args: [{ name: 'name' }] };

export const storageCommands = [
  command('storage add', 'saves a storage after writing, reading back and deleting a small object', 'addStorage', {
    ...storage,
    details: ['--type local --path <directory>, or --config for any type: s3, azure, sftp, ftp, rclone, local'],
    flags: [
      { name: 'type', description: 'local (other types through --config)' },
      'path',
      {
        name: 'config',
        description: "the storage's configuration as JSON (any type), or @file to keep secrets out of shell history",
      },
      { name: 'no-check', description: 'save without the connection test' },
      belongsToWorkspace,
    ],
  }),
  command('storage update', 'changes some settings; the others and the secrets not given are kept', 'updateStorage', {
    ...storage,
    details: [
      'the change is merged over the stored settings ("field": null drops one); the type cannot change',
      'the merged storage passes the connection test before it is saved; nothing is saved otherwise',
    ],
    flags: [...changeFlags],
  }),
  command('storage test', 'writes, reads back and deletes a small object (exit 1 on failure)', 'testStorage', storage),
  command('storage list', 'the storages: name, type, where', 'listStorages'),
  command(
    'storage remove',
    'removes the storage from the catalog (its objects are untouched)',
    'removeStorage',
    storage,
  ),
];
