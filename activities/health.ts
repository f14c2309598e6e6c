import { errorMessage } from '../lib/errors.ts';
import { connect } from '../lib/pg/connection.ts';
import { translated } from './failures.ts';
import { createOutbox, type NotificationDeps } from './notifications.ts';
import type { NotificationEvent } from '../lib/notify/config.ts';

/** The connection check, the uptime history and the notification outbox. */
export const createHealthActivities = (deps: NotificationDeps) => {
  const { catalog } = deps;
  const outbox = createOutbox(deps);
  return {
    async healthSettings(input: { database: string }): Promise<{ registered: boolean; intervalSeconds: number; failureThreshold: number }> {
      return translated(async () => {
        const db = await catalog.findDatabase(input.database);
        if (!db) return { registered: false, intervalSeconds: 60, failureThreshold: 3 };
        return { registered: true, intervalSeconds: db.healthIntervalSeconds, failureThreshold: db.healthFailureThreshold };
      });
    },

    /** One connection and `select 1`, within ten seconds. A down database is a result, not an error. */
    async probeHealth(input: { database: string }): Promise<{ ok: true; latencyMs: number } | { ok: false; error: string }> {
      return translated(async () => {
        const target = await catalog.databaseTarget(input.database);
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
      });
    },

    async recordHealthTransition(input: { database: string; status: 'up' | 'down'; detail: string | null }): Promise<void> {
      return translated(() => catalog.health.recordTransition(input.database, input.status, input.detail));
    },

    /** Queues a notification for the configured channels; the same dedupe key is queued once. */
    async notify(input: { database: string | null; event: string; message: string; dedupeKey: string }): Promise<{ queued: boolean }> {
      // Health events are already named database_down / database_up; the outbox also wakes delivery.
      return translated(async () => ({ queued: await outbox.queue({ ...input, event: input.event as NotificationEvent }) }));
    },
  };
};
