import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import './inputs.ts';

/**
 * Messages and inputs of the notification workflows, importable by the CLI, the console and
 * workflow code alike. `deliverNotifications` runs per database (`notify/<db>`; `notify/@workspace`
 * for notifications of no database) and is woken by signal-with-start whenever a row is queued.
 */
export const WORKSPACE_SCOPE = '@workspace';

export const deliveryWorkflowId = (database: string | null): string => `notify/${database ?? WORKSPACE_SCOPE}`;

/** "Something was queued": the workflow plans and sends whatever is undelivered in its scope. */
export const wakeDeliverySignal = defineSignal('wake');

export interface DeliveryState {
  database: string | null;
  inFlight: number[];
  sent: number;
  failed: number;
  lastPlannedAt: string | null;
}

export const deliveryStateQuery = defineQuery<DeliveryState>('deliveries');

export const deliverNotificationsInput = z.object({
  database: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'database must be a registered name').nullable(),
}).strict();
export type DeliverNotificationsInput = z.input<typeof deliverNotificationsInput>;

export const backupWatchdogInput = z.object({}).strict();
export type BackupWatchdogInput = z.input<typeof backupWatchdogInput>;

export interface WatchdogOutcome {
  /** Databases for which backup_overdue was queued in this run (once per overdue episode). */
  queued: string[];
  overdue: string[];
  /** Scopes whose undelivered rows this run woke a delivery workflow for. */
  swept: Array<string | null>;
}

export const WATCHDOG_SCHEDULE_ID = 'watchdog/backups';
