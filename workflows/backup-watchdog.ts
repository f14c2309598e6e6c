import {
  backupWatchdogInput,
  backupWatchdogWorkflow,
  type BackupWatchdogInput,
  type WatchdogOutcome,
} from '../temporal/contracts/notifications.ts';
import { catalogActivities } from './activity-options.ts';
import { parseInput } from './validate.ts';

/**
 * Run by the `watchdog/backups` schedule every ten minutes: queues backup_overdue for each database
 * whose newest complete backup is older than its threshold (once per overdue episode), and wakes
 * delivery for notifications that no wake-up reached. This catches the silent scheduler: a
 * schedule that stopped, a worker that never came back, a backup that keeps failing quietly.
 */
export async function backupWatchdog(raw: BackupWatchdogInput = {}): Promise<WatchdogOutcome> {
  parseInput(backupWatchdogWorkflow.type, backupWatchdogInput, raw ?? {});
  return catalogActivities.checkOverdueBackups();
}
