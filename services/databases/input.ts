import { z } from 'zod';
import type { DatabaseRecord } from '../../lib/catalog/catalog.ts';
import { nameSchema, NAME_RULE } from '../../lib/names.ts';
import { pgUrlSchema } from '../../lib/pg/connection.ts';
import { cronSchema, timezoneSchema } from '../input.ts';

export const addDatabaseInput = z.object({
  name: nameSchema(`name must be ${NAME_RULE}`),
  url: pgUrlSchema,
  /** Where backups go: one storage name or several (every backup is written to each). */
  storages: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .default('local')
    .transform((v) => (typeof v === 'string' ? [v] : v)),
  schedule: cronSchema.nullable().default(null),
  timezone: timezoneSchema.default('UTC'),
  /** Skip the connection test (for a database that is not reachable yet). */
  skipCheck: z.boolean().default(false),
  /** Restore every new backup into a throwaway server and check it (on by default). */
  verifyAfterBackup: z.boolean().default(true),
  /** The workspace the database joins (the guard checks the caller's role in it). */
  workspaceId: z.number().int().positive().default(1),
});
export type AddDatabaseInput = z.input<typeof addDatabaseInput>;

/** A database's settings as the audit log records them: no password. */
export function databaseSettings(d: DatabaseRecord): Record<string, unknown> {
  return {
    host: d.host,
    port: d.port,
    dbname: d.dbname,
    username: d.username,
    sslmode: d.sslmode,
    storages: d.storageNames,
    schedule: d.schedule,
    timezone: d.timezone,
    verifyAfterBackup: d.verifyAfterBackup,
    verifySchedule: d.verifySchedule,
    retentionPolicy: d.retentionPolicy,
    workspaceId: d.workspaceId,
  };
}
