import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { defineWorkflow } from './common.ts';
import { nameSchema } from '../../lib/names.ts';

/**
 * Notification workflows. `deliverNotifications` runs per database (`notify/<db>`;
 * `notify/@workspace` for notifications of no database) and is woken by signal-with-start
 * whenever a row is queued. `backupWatchdog` runs on the schedule `watchdog/backups`.
 */
export const WORKSPACE_SCOPE = '@workspace';

export const deliverNotificationsInput = z
  .object({
    database: nameSchema('database must be a registered name').nullable(),
  })
  .strict();
export type DeliverNotificationsInput = z.input<typeof deliverNotificationsInput>;

export const backupWatchdogInput = z.object({}).strict();
export type BackupWatchdogInput = z.input<typeof backupWatchdogInput>;

export interface DeliveryState {
  database: string | null;
  inFlight: number[];
  sent: number;
  failed: number;
  lastPlannedAt: string | null;
}

export interface WatchdogOutcome {
  /** Databases for which backup_overdue was queued in this run (once per overdue episode). */
  queued: string[];
  overdue: string[];
  /** Scopes whose undelivered rows this run woke a delivery workflow for. */
  swept: Array<string | null>;
}

export const deliverNotificationsWorkflow = defineWorkflow<DeliverNotificationsInput, void>(
  'deliverNotifications',
  'notify',
);
export const backupWatchdogWorkflow = defineWorkflow<BackupWatchdogInput, WatchdogOutcome>(
  'backupWatchdog',
  'watchdog',
);

export const deliveryWorkflowId = (database: string | null): string => `notify/${database ?? WORKSPACE_SCOPE}`;
export const WATCHDOG_SCHEDULE_ID = 'watchdog/backups';
/** How often the overdue-backup watchdog looks: an alert comes at most this late. */
export const WATCHDOG_EVERY = '10 minutes' as const;

/** "Something was queued": the workflow plans and sends whatever is undelivered in its scope. */
export const wakeDeliverySignal = defineSignal('wake');
export const deliveryStateQuery = defineQuery<DeliveryState>('deliveries');
