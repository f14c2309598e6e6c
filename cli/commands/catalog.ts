/** `hindsight catalog …`: the catalog itself, rebuilt from what a storage holds. */
import { commandsFrom } from './types.ts';

const command = commandsFrom(() => import('../handlers/catalog.ts'));

export const catalogRebuildCommands = [
  command(
    'catalog rebuild',
    'recreates the catalog rows from what one storage holds, with the key alone',
    'rebuildCatalog',
    {
      details: [
        'registers the storage, then records its databases, backups, copies, base backups, WAL segments and histories',
        'idempotent: a second run adds nothing and says so; run it once per storage to add copies from another',
        'databases it creates have no credentials: give them with hindsight db update <db> --url … --password-file …',
      ],
      flags: [
        { name: 'storage-config', required: true },
        { name: 'key', description: "a key file that wrote the objects, besides the installation's keys" },
        'storage-name',
      ],
    },
  ),
];
