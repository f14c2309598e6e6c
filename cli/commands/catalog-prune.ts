/** `hindsight catalog prune`: what the daily catalog maintenance removes (docs/operations.md). */
import { commandsFrom } from './types.ts';

const command = commandsFrom(() => import('../handlers/catalog-prune.ts'));

export const catalogPruneCommands = [
  command(
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
