import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { DeliveryQuery } from '../../lib/catalog/notifiers.ts';
import { HindsightError, errorMessage } from '../../lib/errors.ts';
import {
  notificationEventSchema,
  notifierConfigSchema,
  notifierNameSchema,
  type NotificationEvent,
} from '../../lib/notify/config.ts';
import { consoleLink } from '../../lib/notify/render.ts';
import { sendNotification } from '../../lib/notify/send.ts';
import { upsertWatchdogSchedule } from '../../temporal/schedules.ts';
import { parseOrThrow as parseInput } from '../input.ts';
import type { Runtime } from '../runtime.ts';

function parseOrThrow<S extends z.ZodType>(what: string, schema: S, value: unknown): z.output<S> {
  return parseInput(schema, value, what);
}

const eventsSchema = z.array(notificationEventSchema).min(1, 'name at least one event');
const overdueHoursSchema = z
  .number({ error: 'hours must be a number' })
  .positive('hours must be more than 0')
  .max(8760, 'hours must be at most 8760 (a year)')
  .nullable();

export interface TestSendResult {
  ok: boolean;
  notifier: string;
  elapsedMs: number;
  /** The receiver's answer, or its error in its own words. */
  detail: string;
  kind?: string;
}

/** Notifiers, their toggles and attachments, the test message and the overdue watchdog, for the CLI and console. */
export function createNotifierOperations(runtime: Runtime, temporal?: Client) {
  const { catalog, config } = runtime;
  const store = catalog.notifiers;
  const schedules = (): Client => {
    if (!temporal)
      throw new HindsightError(
        'bad_input',
        'the watchdog schedule needs a Temporal connection, which this caller does not have',
      );
    return temporal;
  };

  return {
    /** Saves a notifier after validating its configuration; it is not contacted (send a test for that). */
    async saveNotifier(name: string, raw: unknown, events?: string[], workspaceId?: number) {
      const parsedName = parseOrThrow('notifier name', notifierNameSchema, name);
      const notifierConfig = parseOrThrow(`notifier "${parsedName}"`, notifierConfigSchema, raw);
      const parsedEvents =
        events === undefined ? undefined : parseOrThrow(`notifier "${parsedName}" events`, eventsSchema, events);
      return store.upsert(parsedName, notifierConfig, parsedEvents, workspaceId);
    },

    listNotifiers: () => store.list(),
    getNotifier: (name: string) => store.get(name),
    removeNotifier: (name: string) => store.remove(name),
    deliveries: (options: DeliveryQuery = {}) => store.deliveries(options),

    async setEvents(name: string, events: string[]) {
      return store.setEvents(
        name,
        parseOrThrow(`notifier "${name}" events`, eventsSchema, events) as NotificationEvent[],
      );
    },

    async attach(database: string, names: string[]) {
      return store.attach(database, [...new Set(names)]);
    },

    /**
     * Sends a test message now, outside the delivery workflow, and reports the receiver's answer
     * or its error as it gave it. It does not count toward the notifier's health.
     */
    async testNotifier(name: string): Promise<TestSendResult> {
      const notifierConfig = await store.config(name);
      const started = Date.now();
      try {
        const result = await sendNotification(name, notifierConfig, {
          event: 'test',
          database: null,
          message: `test message from Hindsight: notifier "${name}" (${notifierConfig.type}) can reach its receiver`,
          link: consoleLink(config.publicUrl, null),
          time: new Date(),
        });
        return { ok: true, notifier: name, elapsedMs: Date.now() - started, detail: result.response };
      } catch (error) {
        return {
          ok: false,
          notifier: name,
          elapsedMs: Date.now() - started,
          detail: errorMessage(error),
          kind: error instanceof HindsightError ? error.kind : 'unexpected',
        };
      }
    },

    /** "No successful backup in N hours": null turns the watchdog off for this database. */
    async setBackupOverdue(database: string, hours: number | null) {
      const parsed = parseOrThrow(`database "${database}" overdue threshold`, overdueHoursSchema, hours);
      await store.setOverdueHours(database, parsed);
      if (parsed !== null) await upsertWatchdogSchedule(schedules(), config.taskQueue);
      return { database, backupOverdueHours: parsed };
    },

    /** The watchdog schedule exists whatever the thresholds: it also sweeps undelivered notifications. */
    ensureWatchdog: () => upsertWatchdogSchedule(schedules(), config.taskQueue),
  };
}

export type NotifierOperations = ReturnType<typeof createNotifierOperations>;
