import { z } from 'zod';

/**
 * Workflow inputs: small JSON with names and ids, never secrets. The same schemas validate what the
 * CLI and console send and, inside the workflow, what anyone (the temporal CLI included) started it
 * with. The workflow sandbox forbids code generation, so zod runs without its JIT.
 */
z.config({ jitless: true });

const databaseName = z
  .string({ error: 'database is required' })
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'database must be a registered name: lowercase letters, digits, "_" or "-"');

const backupId = z.string().regex(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/, 'backupId must look like 20261123T103000Z-3f9a1c');

export const backupDatabaseInput = z.object({
  database: databaseName,
  trigger: z.enum(['manual', 'schedule', 'demo']).default('schedule'),
  backupId: backupId.optional(),
}).strict();
export type BackupDatabaseInput = z.input<typeof backupDatabaseInput>;

const pgIdentifier = z.string().min(1).max(63).regex(/^[A-Za-z_][A-Za-z0-9_$-]*$/, 'must be a plain database name (letters, digits, _ $ -)');

/**
 * PostgreSQL's own databases are never restore targets: objects loaded into template1 (or
 * template0) are copied into every database created later, and `postgres` is the maintenance
 * database tools and people connect to first. A dump is hostile content.
 */
const SYSTEM_DATABASES = ['template0', 'template1', 'postgres'];
const systemDatabaseMessage = (what: string) => `${what} is one of PostgreSQL's own databases (${SYSTEM_DATABASES.join(', ')}): restore into a new database instead`;
/** The database a URL names; an empty path means `postgres` (lib/pg/connection.ts parsePgUrl). */
const urlDatabase = (u: string) => (URL.canParse(u) ? decodeURIComponent(new URL(u).pathname.replace(/^\//, '')) || 'postgres' : '');

export const restoreTargetSchema = z.union([
  z.object({
    database: pgIdentifier.refine((d) => !SYSTEM_DATABASES.includes(d), { error: (issue) => systemDatabaseMessage(`to.database "${String(issue.input)}"`) }),
  }).strict().describe('a new database on the source server'),
  z.object({
    url: z.string()
      .regex(/^postgres(ql)?:\/\//, 'to.url must start with postgres://')
      .refine((u) => URL.canParse(u), 'to.url is not a valid URL')
      .refine((u) => !SYSTEM_DATABASES.includes(urlDatabase(u)), { error: (issue) => systemDatabaseMessage(`the database "${urlDatabase(String(issue.input))}" of to.url`) })
      .refine((u) => !URL.canParse(u) || new URL(u).password === '', 'to.url must not contain a password: workflow inputs are stored in history; pass it as to.sealedPassword (the hindsight CLI does this) or use a .pgpass file on the worker'),
    sealedPassword: z.string().startsWith('v1.').optional(),
  }).strict(),
], { error: 'to must be {"database": "<new name>"} or {"url": "postgres://user@host:port/db"}' });
export type RestoreTarget = z.infer<typeof restoreTargetSchema>;

export const restoreBackupInput = z.object({
  database: databaseName,
  backupId: backupId.optional(),
  to: restoreTargetSchema,
}).strict();
export type RestoreBackupInput = z.input<typeof restoreBackupInput>;

export const replicateBackupInput = z.object({
  database: databaseName,
  backupId,
}).strict();
export type ReplicateBackupInput = z.input<typeof replicateBackupInput>;

const verifyRequest = z.object({
  verificationId: z.string().regex(/^v-[0-9a-z-]{6,64}$/, 'verificationId must look like v-20261123t1030-3f9a1c'),
  backupId,
  trigger: z.enum(['backup', 'schedule', 'manual']),
}).strict();

export const restoreVerifierInput = z.object({
  database: databaseName,
  /** A request carried over a continue-as-new. */
  pending: verifyRequest.optional(),
}).strict();
export type RestoreVerifierInput = z.input<typeof restoreVerifierInput>;

export const healthMonitorInput = z.object({
  database: databaseName,
  /** What a continue-as-new carries over. */
  carried: z.object({
    status: z.enum(['unknown', 'up', 'down']),
    since: z.string().nullable(),
    consecutiveFailures: z.number().int().min(0),
  }).optional(),
}).strict();
export type HealthMonitorInput = z.input<typeof healthMonitorInput>;

export const gfsRetentionInput = z.object({
  database: databaseName,
  /** Plan only: the `plan` query and the result show what would go, nothing is deleted. */
  dryRun: z.boolean().default(false),
}).strict();
export type GfsRetentionInput = z.input<typeof gfsRetentionInput>;

export const scheduledVerificationInput = z.object({ database: databaseName }).strict();
export type ScheduledVerificationInput = z.input<typeof scheduledVerificationInput>;

/** Turns a zod error into one line that names every bad field. */
export function describeInputError(workflow: string, error: z.ZodError): string {
  const problems = error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : 'input';
    return `${field}: ${issue.message}`;
  });
  return `invalid ${workflow} input: ${problems.join('; ')}`;
}
