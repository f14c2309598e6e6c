import { Context } from '@temporalio/activity';
import { formatBinaryBytes } from '../lib/bytes.ts';
import { counted } from '../lib/counted.ts';
import type { Catalog } from '../lib/catalog/catalog.ts';
import type { NotificationScope } from '../lib/catalog/health-outbox.ts';
import { errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { NotificationEvent } from '../lib/notify/config.ts';
import { consoleLink } from '../lib/notify/render.ts';
import { sendNotification } from '../lib/notify/send.ts';
import type { WatchdogOutcome } from '../temporal/contracts/notifications.ts';
import { bindActivities } from './bind.ts';

export interface NotificationDeps {
  catalog: Catalog;
  logger: Logger;
  /** The console as people reach it (HINDSIGHT_PUBLIC_URL): every message links to it. */
  publicUrl?: string;
  /** Starts or wakes the scope's deliverNotifications workflow (signal-with-start). */
  wakeDelivery?: (database: string | null) => Promise<void>;
}

/**
 * A database's notification, or, with `database: null`, one of the workspace named by
 * `workspaceId`: only that workspace's notifiers hear it.
 */
export type QueuedNotification = NotificationScope & {
  event: NotificationEvent;
  message: string;
  /** The same key is queued once per workspace, however often its producer is retried. */
  dedupeKey: string;
};

/**
 * The one thing a producer calls: the row goes into the outbox (`notifications`) and the scope's
 * delivery workflow is woken. A failed insert throws, so that an activity that exists to notify
 * (the health monitor's) is retried; producers whose own work must not fail because of a
 * notification catch it (see notifyBackupOutcome). The wake-up never throws: a row whose wake-up
 * was lost is delivered by the watchdog's sweep.
 */
export function createOutbox(deps: NotificationDeps) {
  const { catalog, logger } = deps;
  return {
    async queue(n: QueuedNotification): Promise<boolean> {
      const queued = await catalog.health.notify(n);
      if (queued) logger.info({ database: n.database, event: n.event }, n.message);
      await wake(deps, n.database);
      return queued;
    },
  };
}

async function wake(deps: NotificationDeps, database: string | null): Promise<void> {
  if (!deps.wakeDelivery) return;
  try {
    await deps.wakeDelivery(database);
  } catch (error) {
    deps.logger.warn(
      { database, err: errorMessage(error) },
      'notification delivery not woken; the watchdog sweep delivers it',
    );
  }
}

export type Outbox = ReturnType<typeof createOutbox>;

/** Rows older than this that no delivery picked up are woken again by the watchdog. */
const SWEEP_AFTER_SECONDS = 30;

const DEFAULT_PUBLIC_URL = 'http://localhost:3000';

/** Plans the scope's undelivered notifications and returns every pending delivery. */
async function planDeliveries(
  deps: NotificationDeps,
  input: { database: string | null },
): Promise<{ deliveryIds: number[] }> {
  return { deliveryIds: await deps.catalog.notifiers.planDeliveries(input.database) };
}

/**
 * One attempt to send one notification through one notifier. Every attempt is counted in the
 * delivery row; the error's kind decides whether Temporal retries it.
 */
async function sendNotificationActivity(
  deps: NotificationDeps,
  input: { deliveryId: number },
): Promise<{ status: 'sent' | 'already_sent'; response: string }> {
  const { catalog, logger } = deps;
  const work = await catalog.notifiers.deliveryWork(input.deliveryId);
  if (work.status !== 'pending') return { status: 'already_sent' as const, response: work.status };
  const n = work.notification;
  try {
    const result = await sendNotification(work.notifierName, work.config, {
      event: n.event,
      database: n.database,
      message: n.message,
      link: consoleLink(deps.publicUrl ?? DEFAULT_PUBLIC_URL, n.database),
      time: n.createdAt,
    });
    await catalog.notifiers.recordAttempt(input.deliveryId, { ok: true, response: result.response });
    return { status: 'sent' as const, response: result.response };
  } catch (error) {
    await catalog.notifiers.recordAttempt(input.deliveryId, { ok: false, error: errorMessage(error) });
    const attempt = Context.current().info.attempt;
    logger.warn(
      { deliveryId: input.deliveryId, notifier: work.notifierName, attempt, err: errorMessage(error) },
      'notification not delivered',
    );
    throw error;
  }
}

/** Retries are spent: the delivery is failed and its notifier's failure count grows. */
async function failDelivery(deps: NotificationDeps, input: { deliveryId: number; error: string }): Promise<void> {
  return deps.catalog.notifiers.failDelivery(input.deliveryId, input.error);
}

/**
 * The watchdog: queues backup_overdue once per overdue episode (the dedupe key holds the last
 * complete backup, so a new backup starts a new episode), then wakes delivery for any row that
 * no wake-up reached.
 */
async function checkOverdueBackups(deps: NotificationDeps): Promise<WatchdogOutcome> {
  const { catalog } = deps;
  const outbox = createOutbox(deps);
  const now = new Date();
  const overdue = await catalog.notifiers.overdueDatabases(now);
  const queued: string[] = [];
  for (const o of overdue) {
    const hours = (now.getTime() - o.since.getTime()) / 3_600_000;
    const last = o.lastBackupId
      ? `the last one, ${o.lastBackupId}, finished ${o.since.toISOString()}`
      : `none since it was registered ${o.since.toISOString()}`;
    const fresh = await outbox.queue({
      database: o.database,
      event: 'backup_overdue',
      message: `database "${o.database}" has had no successful backup for ${formatHours(hours)} (threshold ${formatHours(o.thresholdHours)}; ${last})`,
      dedupeKey: `overdue:${o.database}:${o.lastBackupId ?? 'none'}`,
    });
    if (fresh) queued.push(o.database);
  }
  const swept = await catalog.notifiers.scopesWithUndelivered(SWEEP_AFTER_SECONDS);
  for (const scope of swept) await wake(deps, scope);
  return { queued, overdue: overdue.map((o) => o.database), swept };
}

export const createNotificationActivities = (deps: NotificationDeps) =>
  bindActivities(deps, {
    planDeliveries,
    sendNotification: sendNotificationActivity,
    failDelivery,
    checkOverdueBackups,
  });

function formatHours(hours: number): string {
  return hours >= 48
    ? `${Math.floor(hours / 24)} days`
    : hours >= 1
      ? `${Math.floor(hours)} h`
      : `${Math.max(1, Math.round(hours * 60))} min`;
}

/** The notification of a backup's outcome (failed, complete, partial), queued once per backup and status. */
export async function notifyBackupOutcome(
  catalog: Catalog,
  outbox: Outbox,
  logger: Logger,
  backupId: string,
): Promise<void> {
  try {
    const b = await catalog.getBackup(backupId);
    const db = b.databaseName;
    if (b.status === 'failed') {
      await outbox.queue({
        database: db,
        event: 'backup_failed',
        message: `backup ${b.id} of database "${db}" failed: ${b.error ?? 'no reason recorded'}`,
        dedupeKey: `backup:${b.id}:failed`,
      });
    } else if (b.status === 'complete') {
      const rows = b.rowCounts?.reduce((sum, t) => sum + t.rows, 0) ?? 0;
      await outbox.queue({
        database: db,
        event: 'backup_succeeded',
        message: `backup ${b.id} of database "${db}" is complete: ${formatSize(b.sizeBytes)} in ${b.copies.map((c) => c.storageName).join(', ')}, ${b.rowCounts?.length ?? 0} tables, ${rows} rows`,
        dedupeKey: `backup:${b.id}:complete`,
      });
    } else if (b.status === 'partial') {
      const missing = b.copies.filter((c) => c.status !== 'complete');
      await outbox.queue({
        database: db,
        event: 'backup_partial',
        message: `backup ${b.id} of database "${db}" is partial: stored in ${b.copies
          .filter((c) => c.status === 'complete')
          .map((c) => c.storageName)
          .join(', ')}, missing from ${missing.map((c) => `${c.storageName} (${c.error ?? 'no copy'})`).join(', ')}`,
        dedupeKey: `backup:${b.id}:partial`,
      });
    }
  } catch (error) {
    // The backup's own record is what matters: a notification that cannot be queued never fails it.
    logger.error({ backupId, err: errorMessage(error) }, 'backup notification not queued');
  }
}

/** The notification of a finished verification: failed (with its reason) or successful. */
export async function notifyVerificationOutcome(
  catalog: Catalog,
  outbox: Outbox,
  logger: Logger,
  verificationId: string,
): Promise<void> {
  try {
    const v = await catalog.verifications.get(verificationId);
    if (v.status === 'failed') {
      await outbox.queue({
        database: v.database,
        event: 'verification_failed',
        message: `verification of backup ${v.backupId ?? '?'} of database "${v.database}" failed: ${v.reason ?? 'no reason recorded'}`,
        dedupeKey: `verification:${v.id}:failed`,
      });
    } else if (v.status === 'successful') {
      const r = v.report;
      await outbox.queue({
        database: v.database,
        event: 'verification_succeeded',
        message: `backup ${v.backupId ?? '?'} of database "${v.database}" was restored in a throwaway server: ${counted(r?.tables ?? 0, 'table')}, ${counted(r?.restoredRows ?? 0, 'row')}, every row count matches`,
        dedupeKey: `verification:${v.id}:successful`,
      });
    }
  } catch (error) {
    // As above: the verification's record stands on its own.
    logger.error({ verificationId, err: errorMessage(error) }, 'verification notification not queued');
  }
}

function formatSize(bytes: number | null): string {
  return bytes === null ? 'unknown size' : formatBinaryBytes(bytes);
}
