import { inBatches, selectDue, type ProbeResult } from '../lib/catalog/health-rules.ts';
import { errorMessage } from '../lib/errors.ts';
import { connect } from '../lib/pg/connection.ts';
import type { NotificationScope } from '../lib/catalog/health-outbox.ts';
import type { NotificationEvent } from '../lib/notify/config.ts';
import { bindActivities } from './bind.ts';
import { createOutbox, type NotificationDeps } from './notifications.ts';

async function healthSettings(
  deps: NotificationDeps,
  input: { database: string },
): Promise<{ registered: boolean; intervalSeconds: number; failureThreshold: number }> {
  const db = await deps.catalog.findDatabase(input.database);
  if (!db) return { registered: false, intervalSeconds: 60, failureThreshold: 3 };
  return { registered: true, intervalSeconds: db.healthIntervalSeconds, failureThreshold: db.healthFailureThreshold };
}

/** One connection and `select 1`, within ten seconds. A down database is a result, not an error. */
async function probeHealth(deps: NotificationDeps, input: { database: string }): Promise<ProbeResult> {
  const target = await deps.catalog.databaseTarget(input.database);
  const started = Date.now();
  try {
    const client = await connect(input.database, target);
    try {
      await client.query('select 1');
    } finally {
      await client.end().catch(() => undefined);
    }
    return { ok: true as const, latencyMs: Date.now() - started };
  } catch (error) {
    return { ok: false as const, error: errorMessage(error) };
  }
}

async function recordHealthTransition(
  deps: NotificationDeps,
  input: { database: string; status: 'up' | 'down'; detail: string | null },
): Promise<void> {
  return deps.catalog.health.recordTransition(input.database, input.status, input.detail);
}

/** The databases due for a check now, in batches, and how long until the next one is due. */
async function planHealthSweep(
  deps: NotificationDeps,
  input: { batchSize: number },
): Promise<{ batches: string[][]; nextDueInMs: number | null }> {
  const { due, nextDueInMs } = selectDue(await deps.catalog.health.probeSchedules(), new Date());
  return { batches: inBatches(due, input.batchSize), nextDueInMs };
}

/** Connection checks of one batch at once: each waits up to ten seconds for a server that does not answer. */
const PROBES_AT_ONCE = 25;

/**
 * Checks a batch of databases, PROBES_AT_ONCE at a time, and records every result with its
 * transitions and notifications in one transaction (lib/catalog/health-state.ts). A retry checks
 * again; a transition already recorded is not notified twice.
 */
async function probeHealthBatch(
  deps: NotificationDeps,
  input: { databases: string[] },
): Promise<{ probed: number; transitions: number; notified: number }> {
  const queue = [...input.databases];
  const records: Array<{ database: string; probe: ProbeResult; at: Date }> = [];
  const lane = async () => {
    for (let database = queue.shift(); database !== undefined; database = queue.shift()) {
      const probe = await probeHealth(deps, { database }).catch((error: unknown) => ({
        ok: false as const,
        error: errorMessage(error),
      }));
      records.push({ database, probe, at: new Date() });
    }
  };
  await Promise.all(Array.from({ length: Math.min(PROBES_AT_ONCE, queue.length) }, lane));
  const recorded = await deps.catalog.health.recordProbes(records);
  for (const notice of recorded.queued) {
    deps.logger.info({ database: notice.database, event: notice.event }, notice.message);
    await wakeDelivery(deps, notice.database);
  }
  return { probed: recorded.states.length, transitions: recorded.transitions.length, notified: recorded.queued.length };
}

/** Delivery is woken at once; if that fails, the watchdog's sweep delivers the notification later. */
async function wakeDelivery(deps: NotificationDeps, database: string | null): Promise<void> {
  await deps.wakeDelivery?.(database).catch((error: unknown) => {
    deps.logger.warn(
      { database, err: errorMessage(error) },
      'notification delivery not woken; the watchdog sweep delivers it',
    );
  });
}

/** Queues a notification for the configured channels; the same dedupe key is queued once. */
async function notify(
  deps: NotificationDeps,
  input: NotificationScope & { event: string; message: string; dedupeKey: string },
): Promise<{ queued: boolean }> {
  // Health events are already named database_down / database_up; the outbox also wakes delivery.
  return { queued: await createOutbox(deps).queue({ ...input, event: input.event as NotificationEvent }) };
}

/**
 * The batch health sweep's plan and checks; the connection check, the uptime history and the
 * notification outbox that an earlier version's per-database monitor calls.
 */
export const createHealthActivities = (deps: NotificationDeps) =>
  bindActivities(deps, {
    planHealthSweep,
    probeHealthBatch,
    healthSettings,
    probeHealth,
    recordHealthTransition,
    notify,
  });
