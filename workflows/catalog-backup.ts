import { condition, proxyActivities, setHandler, uuid4 } from '@temporalio/workflow';
import type { createCatalogBackupActivities } from '../activities/catalog-backup.ts';
import {
  catalogBackupInput,
  catalogBackupWorkflow,
  configChangedSignal,
  type CatalogBackupInput,
  type CatalogBackupOutcome,
} from '../temporal/contracts/catalog-backup.ts';
import { backupIdAt } from '../temporal/contracts/common.ts';
import { permanentErrorTypes } from './activity-options.ts';
import { parseInput } from './validate.ts';

/** A catalog dump is small; a storage that is down gets a few tries before the run fails. */
const { backUpCatalog } = proxyActivities<ReturnType<typeof createCatalogBackupActivities>>({
  startToCloseTimeout: '30 minutes',
  retry: {
    initialInterval: '5 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 4,
    nonRetryableErrorTypes: permanentErrorTypes,
  },
});

/**
 * Backs up Hindsight's catalog (temporal/contracts/catalog-backup.ts). After a change it first
 * waits until no `configChanged` has come for `quietSeconds`, and a change that comes while the
 * backup runs is not lost: the run waits for quiet again and takes one more.
 */
export async function catalogBackup(raw: CatalogBackupInput): Promise<CatalogBackupOutcome> {
  const input = parseInput(catalogBackupWorkflow.type, catalogBackupInput, raw);
  let changes = 0;
  setHandler(configChangedSignal, () => {
    changes += 1;
  });
  const quiet = async (): Promise<void> => {
    for (;;) {
      const seen = changes;
      if (!(await condition(() => changes !== seen, input.quietSeconds * 1000))) return;
    }
  };
  for (;;) {
    if (input.trigger === 'change') await quiet();
    const seen = changes;
    const outcome = await backUpCatalog({ backupId: backupIdAt(new Date(), uuid4()), keep: input.keep });
    if (input.trigger !== 'change' || changes === seen) return outcome;
  }
}
