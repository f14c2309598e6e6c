import { errorMessage } from '../lib/errors.ts';
import { connect } from '../lib/pg/connection.ts';
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
async function probeHealth(
  deps: NotificationDeps,
  input: { database: string },
): Promise<{ ok: true; latencyMs: number } | { ok: false; error: string }> {
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

/** Queues a notification for the configured channels; the same dedupe key is queued once. */
async function notify(
  deps: NotificationDeps,
  input: { database: string | null; event: string; message: string; dedupeKey: string },
): Promise<{ queued: boolean }> {
  // Health events are already named database_down / database_up; the outbox also wakes delivery.
  return { queued: await createOutbox(deps).queue({ ...input, event: input.event as NotificationEvent }) };
}

/** The connection check, the uptime history and the notification outbox. */
export const createHealthActivities = (deps: NotificationDeps) =>
  bindActivities(deps, {
    healthSettings,
    probeHealth,
    recordHealthTransition,
    notify,
  });
