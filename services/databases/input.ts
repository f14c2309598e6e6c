import { z } from 'zod';
import type { DatabaseRecord } from '../../lib/catalog/catalog.ts';
import { CATALOG_BACKUP_PREFIX } from '../../lib/crypto/object-identity.ts';
import { nameSchema, NAME_RULE } from '../../lib/names.ts';
import { pgUrlSchema } from '../../lib/pg/connection.ts';
import { cronSchema, timezoneSchema } from '../input.ts';

/** pg_dump -j: one job is today's single stream; more than 16 would only queue on the source's cores. */
export const parallelJobsSchema = z
  .number()
  .int('parallel jobs must be a whole number')
  .min(1, 'parallel jobs must be at least 1 (1: the single-stream dump)')
  .max(16, 'parallel jobs must be at most 16');

const secretKeyMode = z.object({ mode: z.literal('secret-key') }).strict();
const publicKeyMode = z
  .object({
    mode: z.literal('public-key'),
    recipient: z
      .string()
      .trim()
      .regex(
        /^hspub1[A-Za-z0-9_-]{43}$/,
        'recipient must be an X25519 public key, hspub1 followed by 43 base64url characters (hindsight key generate prints one)',
      ),
  })
  .strict();
const kmsMode = z
  .object({ mode: z.literal('kms'), key: nameSchema(`the KMS key's name must be ${NAME_RULE}`) })
  .strict();

/**
 * How the database's backups, WAL and base backups are encrypted: as its workspace's default says
 * (`workspace`, and without one the secret key), under the installation's secret key, or
 * (public-key mode) for an X25519 recipient, so that the workers that write them cannot read them
 * back and only the holder of the identity file can, or (KMS mode) with data keys wrapped by a
 * named KMS key (hindsight key kms add), which the KMS can revoke (docs/backup-format.md).
 */
export const encryptionSettingSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('workspace') }).strict(),
  secretKeyMode,
  publicKeyMode,
  kmsMode,
]);
export type EncryptionSetting = z.infer<typeof encryptionSettingSchema>;

/** A workspace's default for its databases without their own setting; `secret-key`: none. */
export const workspaceEncryptionSchema = z.discriminatedUnion('mode', [secretKeyMode, publicKeyMode, kmsMode]);
export type WorkspaceEncryptionSetting = z.infer<typeof workspaceEncryptionSchema>;

export const recipientOfSetting = (setting: EncryptionSetting): string | null =>
  setting.mode === 'public-key' ? setting.recipient : null;

export const kmsKeyOfSetting = (setting: EncryptionSetting): string | null =>
  setting.mode === 'kms' ? setting.key : null;

/** The catalog's columns for a database's own setting. */
export const encryptionColumnsOf = (setting: EncryptionSetting) => ({
  encryptionRecipient: recipientOfSetting(setting),
  encryptionKms: kmsKeyOfSetting(setting),
  encryptionSecretKey: setting.mode === 'secret-key',
});

export const encryptionSettingOf = (d: {
  encryptionRecipient: string | null;
  encryptionKms: string | null;
  encryptionSecretKey: boolean;
}): EncryptionSetting =>
  d.encryptionKms
    ? { mode: 'kms', key: d.encryptionKms }
    : d.encryptionRecipient
      ? { mode: 'public-key', recipient: d.encryptionRecipient }
      : d.encryptionSecretKey
        ? { mode: 'secret-key' }
        : { mode: 'workspace' };

/** One storage name or several. */
const storageNames = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const asList = (v: string | string[]) => (typeof v === 'string' ? [v] : v);

/** A database's backups lie under its name in storage: the catalog's own prefix is taken. */
const databaseName = nameSchema(`name must be ${NAME_RULE}`).refine(
  (name) => name !== CATALOG_BACKUP_PREFIX,
  `name "${CATALOG_BACKUP_PREFIX}" is where the catalog backs itself up in every storage: choose another`,
);

export const addDatabaseInput = z.object({
  name: databaseName,
  url: pgUrlSchema,
  /** Where backups go: one storage name or several (every backup is written to each). */
  storages: storageNames.default('local').transform(asList),
  schedule: cronSchema.nullable().default(null),
  timezone: timezoneSchema.default('UTC'),
  /** Skip the connection test (for a database that is not reachable yet). */
  skipCheck: z.boolean().default(false),
  /** Restore every new backup into a throwaway server and check it (on by default). */
  verifyAfterBackup: z.boolean().default(true),
  /** pg_dump jobs per backup: 1 is the single-stream dump, 2..16 a parallel directory dump. */
  parallelJobs: parallelJobsSchema.default(1),
  encryption: encryptionSettingSchema.default({ mode: 'workspace' }),
  /** The workspace the database joins (the guard checks the caller's role in it). */
  workspaceId: z.number().int().positive().default(1),
});
export type AddDatabaseInput = z.input<typeof addDatabaseInput>;
export type NewDatabaseValues = z.output<typeof addDatabaseInput>;

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
    parallelJobs: d.parallelJobs,
    encryption: encryptionSettingOf(d),
    verifySchedule: d.verifySchedule,
    restoreDrillCron: d.restoreDrillCron,
    retentionPolicy: d.retentionPolicy,
    workspaceId: d.workspaceId,
  };
}

/** What `remove` does with the database's backups: keep them in storage (the default) or delete them. */
export const removeDatabaseOptions = z.object({ backups: z.enum(['keep', 'delete']).default('keep') }).strict();
export type RemoveDatabaseOptions = z.input<typeof removeDatabaseOptions>;

/**
 * What `update` may change; only the fields given change. A URL without a password keeps the
 * stored one; `password` replaces it either way.
 */

export const updateDatabaseInput = z
  .object({
    /** A new name; its backups stay attached (they are recorded by id) and keep their stored keys. */
    name: databaseName.optional(),
    url: pgUrlSchema.optional(),
    password: z.string().min(1, 'password must not be empty').optional(),
    storages: storageNames.transform(asList).optional(),
    schedule: cronSchema.nullable().optional(),
    timezone: timezoneSchema.optional(),
    verifyAfterBackup: z.boolean().optional(),
    /** pg_dump jobs per backup from the next backup on; earlier backups keep their format. */
    parallelJobs: parallelJobsSchema.optional(),
    /** From the next backup, WAL segment and base backup on; earlier objects keep the key they were written with. */
    encryption: encryptionSettingSchema.optional(),
    /** Seconds between two probes of the health monitor. */
    healthIntervalSeconds: z.number().int().min(1).max(86400).optional(),
    /** Failed probes in a row before the database counts as down. */
    healthFailureThreshold: z.number().int().min(1).max(100).optional(),
    /** Save a new URL or password without connecting with it first. */
    skipCheck: z.boolean().default(false),
  })
  .strict()
  .refine((c) => Object.entries(c).some(([k, v]) => k !== 'skipCheck' && v !== undefined), {
    message:
      'nothing to change: give a name, URL, password, storages, schedule, timezone, parallel jobs, encryption, verification or health setting',
  });
export type UpdateDatabaseInput = z.input<typeof updateDatabaseInput>;
export type DatabaseChanges = z.output<typeof updateDatabaseInput>;
