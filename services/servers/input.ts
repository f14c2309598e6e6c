import { z } from 'zod';
import { enablePitrInput } from '../pitr/input.ts';
import type { ServerRecord } from '../../lib/catalog/servers.ts';
import { NAME_RULE, nameSchema } from '../../lib/names.ts';
import { pgUrlSchema } from '../../lib/pg/connection.ts';
import { cronSchema, timezoneSchema } from '../input.ts';

const storageList = z
  .array(nameSchema(`storages must name storages: ${NAME_RULE}`))
  .min(1, 'storages must name at least one storage');

/** A database name pattern: `*` and `?` as in a shell; a datname may hold anything but a NUL. */
const excludeList = z.array(z.string().min(1, 'an exclude pattern must not be empty').max(200));

/** `--drill-schedule <cron|off>`: a cron, or null for no PITR drills (docs/pitr.md, "Drills"). */
export const drillScheduleSchema = z.union([cronSchema, z.null()], {
  error: 'pitrDrillSchedule must be a cron expression such as "17 4 * * 0", or null (off) to switch drills off',
});

/** What a server's runs do: the same fields for `add` (with defaults) and `update` (only those given). */
const runOptions = {
  /** Register every database of the server on each run, and mark those it no longer has. */
  allDatabases: z.boolean(),
  /** Take the `postgres` database too (left out by default: it usually holds nothing of one's own). */
  includePostgres: z.boolean(),
  excludes: excludeList,
  storages: storageList,
  schedule: cronSchema.nullable(),
  timezone: timezoneSchema,
  /** A retention policy (lib/retention/policy.ts) given to every database the server registers. */
  retention: z.unknown().nullable(),
  verifyAfterBackup: z.boolean(),
};

export const addServerInput = z
  .object({
    name: nameSchema(`server name must be ${NAME_RULE}`),
    url: pgUrlSchema,
    workspaceId: z.number().int().positive().default(1),
    allDatabases: runOptions.allDatabases.default(false),
    includePostgres: runOptions.includePostgres.default(false),
    excludes: runOptions.excludes.default([]),
    storages: runOptions.storages.default(['local']),
    schedule: runOptions.schedule.default(null),
    timezone: runOptions.timezone.default('UTC'),
    retention: runOptions.retention.default(null),
    verifyAfterBackup: runOptions.verifyAfterBackup.default(true),
  })
  .strict();
export type AddServerInput = z.input<typeof addServerInput>;
export type NewServerValues = z.output<typeof addServerInput>;

export const updateServerInput = z
  .object({
    allDatabases: runOptions.allDatabases.optional(),
    includePostgres: runOptions.includePostgres.optional(),
    excludes: runOptions.excludes.optional(),
    storages: runOptions.storages.optional(),
    schedule: runOptions.schedule.optional(),
    timezone: runOptions.timezone.optional(),
    retention: runOptions.retention.optional(),
    verifyAfterBackup: runOptions.verifyAfterBackup.optional(),
    /** The PITR drill cron (docs/pitr.md, "Drills"); null switches drills off. */
    pitrDrillSchedule: drillScheduleSchema.optional(),
  })
  .strict()
  .refine((c) => Object.values(c).some((v) => v !== undefined), {
    message:
      'nothing to change: give the schedule, timezone, storages, excludes, retention, the drill schedule or a flag',
  });
export type UpdateServerInput = z.input<typeof updateServerInput>;
export type ServerChanges = z.output<typeof updateServerInput>;

export const removeServerOptions = z.object({ keepDatabases: z.boolean().default(false) }).strict();
export type RemoveServerOptions = z.input<typeof removeServerOptions>;

/** A server as the audit log, the API and the CLI show it: no password. */
export function serverSettings(s: ServerRecord) {
  return {
    name: s.name,
    workspaceId: s.workspaceId,
    host: s.host,
    port: s.port,
    dbname: s.dbname,
    username: s.username,
    sslmode: s.sslmode,
    systemIdentifier: s.systemIdentifier,
    serverVersion: s.serverVersion,
    allDatabases: s.allDatabases,
    includePostgres: s.includePostgres,
    excludes: s.excludes,
    storages: s.storageNames,
    schedule: s.schedule,
    timezone: s.timezone,
    retention: s.retentionPolicy,
    verifyAfterBackup: s.verifyAfterBackup,
    pitrDrillSchedule: s.pitrDrillSchedule,
  };
}
export type ServerSettings = ReturnType<typeof serverSettings>;

/**
 * `server pitr on`: the settings of `db pitr on`, for the archive of the whole cluster. No agent:
 * a server is reached from here, as its runs reach it.
 */
export const serverPitrInput = enablePitrInput.omit({ agent: true });
export type ServerPitrInput = z.input<typeof serverPitrInput>;
