import { createBackupActivities, type BackupDeps } from './backups.ts';
import { createCatalogBackupActivities } from './catalog-backup.ts';
import { createCatalogMaintenanceActivities } from './catalog-maintenance.ts';
import { createHealthActivities } from './health.ts';
import { createHookActivities } from './hooks.ts';
import { createNotificationActivities } from './notifications.ts';
import { createPitrActivities } from './pitr.ts';
import { createPitrDrillActivities } from './pitr-drill.ts';
import { createRestoreActivities } from './restores.ts';
import { createRestoreDrillActivities } from './restore-drill.ts';
import { createRetentionActivities } from './retention.ts';
import { createServerActivities } from './servers.ts';
import { createVerificationActivities, type VerificationDeps } from './verification.ts';
import { createVerificationRouteActivities } from './verification-route.ts';
import { createWalActivities } from './wal.ts';

export { RESTORE_PASSWORD_CONTEXT } from './restores.ts';
export type { ProgressSink } from './progress.ts';

/**
 * Everything the worker's activities use. Each domain module takes the part it needs; failures and
 * progress are handled once around every activity by the worker's interceptor (interceptor.ts).
 */
export interface ActivityDeps extends BackupDeps, VerificationDeps {
  /** HINDSIGHT_WAL_SPOOL_DIR: where WAL waits for upload on this host (wal.ts). */
  walSpoolDir?: string | undefined;
}

/** The worker's activities, by the names workflows call them. */
export const createActivities = (deps: ActivityDeps) => ({
  ...createVerificationActivities(deps),
  ...createVerificationRouteActivities(deps),
  ...createHealthActivities(deps),
  ...createRetentionActivities(deps),
  ...createHookActivities(deps),
  ...createNotificationActivities(deps),
  ...createPitrActivities(deps),
  ...createPitrDrillActivities(deps),
  ...createWalActivities(deps),
  ...createBackupActivities(deps),
  ...createRestoreActivities(deps),
  ...createRestoreDrillActivities(deps),
  ...createServerActivities(deps),
  ...createCatalogBackupActivities(deps),
  ...createCatalogMaintenanceActivities(deps),
});

export type Activities = ReturnType<typeof createActivities>;
