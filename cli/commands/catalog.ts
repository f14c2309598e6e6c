/** `hindsight catalog …`: the catalog itself, rebuilt from what a storage holds, and pruned. */
import { commandsFrom } from './types.ts';

const command = commandsFrom(() => import('../handlers/catalog.ts'));
const pruneCommand = commandsFrom(() => import('../handlers/catalog-prune.ts'));

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

/** What the daily catalog maintenance removes (docs/operations.md). */
export const catalogPruneCommands = [
  pruneCommand(
    'catalog prune',
    'removes old catalog rows now as the daily maintenance does, or shows what would go (instance owner or operator)',
    'pruneCatalog',
    {
      flags: ['dry-run'],
      details: [
        'audit entries, notifications and their deliveries, restore and hook runs, finished verifications and',
        'failed backups, and the rows of backups deleted by retention, each after its HINDSIGHT_*_RETENTION_DAYS',
        'deletes in batches of 5000 rows; the newest record of each backup or database is always kept',
      ],
    },
  ),
];
