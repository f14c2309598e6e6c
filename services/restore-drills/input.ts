import { z } from 'zod';
import { spreadSecond } from '../../lib/schedule/spread.ts';
import { pgUrlSchema } from '../../lib/pg/connection.ts';
import { cronSchema } from '../input.ts';

/**
 * A database's restore drill: the server to restore into (a postgres:// URL whose role may create
 * databases; its database is only where the drill connects to create its own), and when. What is
 * not given keeps what is saved; a cron never saved is the monthly default.
 */
export const restoreDrillSettingsInput = z
  .object({
    target: pgUrlSchema.optional(),
    cron: cronSchema.optional(),
  })
  .strict()
  .refine((s) => s.target !== undefined || s.cron !== undefined, {
    message: 'nothing to change: give the restore drill target, its cron, or both',
  });
export type RestoreDrillSettingsInput = z.input<typeof restoreDrillSettingsInput>;

/**
 * Monthly, on the 1st at 03:MM in the database's time zone: the minute (and, by the schedule's
 * spread, the second) is the database's own, so that drills of many databases do not start at once.
 */
export const defaultDrillCron = (database: string): string => `${spreadSecond(database)} 3 1 * *`;
