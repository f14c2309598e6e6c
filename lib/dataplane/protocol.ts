/**
 * The messages between the worker and its data plane (lib/dataplane/plane.ts), checked on arrival
 * on both sides: a message that does not parse is a bug or a corrupted port, and is refused by
 * name rather than acted on. The key travels as bytes inside the message (structured clone, in
 * memory only): never in the environment, argv or a file, and never in a log line.
 */
import { z } from 'zod';
import { manifestSchema } from '../backup/manifest.ts';
import { kmsConfigSchema } from '../crypto/wrap/kms/config.ts';
import { HindsightError, type ErrorKind } from '../errors.ts';
import { checksumPolicySchema } from '../pg/table-checksums.ts';
import { storageConfigSchema } from '../storage/config.ts';

const errorKinds = [
  'bad_input',
  'not_found',
  'access_denied',
  'unreachable',
  'no_space',
  'integrity',
  'conflict',
  'tool_failed',
  'busy',
  'forbidden',
  'rate_limited',
] as const satisfies readonly ErrorKind[];

const pgTargetSchema = z.object({
  host: z.string(),
  port: z.number().int(),
  database: z.string(),
  user: z.string(),
  password: z.string().optional(),
  sslmode: z.string().optional(),
});

/** One logical backup for the plane: everything it needs to build its own drivers and run the dump. */
export const dumpJobSchema = z.object({
  databaseName: z.string().min(1),
  backupId: z.string().min(1),
  target: pgTargetSchema,
  destinations: z.array(z.object({ name: z.string().min(1), config: storageConfigSchema })).min(1),
  /** pg_dump jobs (the database's setting); absent or 1: the single-stream dump. */
  parallelJobs: z.number().int().min(1).max(16).optional(),
  key: z.object({
    id: z.string().regex(/^[0-9a-f]{16}$/),
    bytes: z.instanceof(Uint8Array).refine((b) => b.length === 32, 'the secret key must be 32 bytes'),
  }),
  checksums: checksumPolicySchema.optional(),
  /** Public-key mode: the X25519 recipient the backup is encrypted for, instead of the secret key. */
  recipient: z.string().optional(),
  /** KMS mode: the named KMS key's configuration, credentials included, that wraps the data keys. */
  kms: kmsConfigSchema.optional(),
});
export type DumpJob = z.infer<typeof dumpJobSchema>;

const progressSchema = z.object({ dumpBytes: z.number(), storedBytes: z.number() });

const copyOutcomeSchema = z.object({
  storageName: z.string(),
  status: z.enum(['complete', 'failed']),
  sizeBytes: z.number().optional(),
  error: z.string().optional(),
});

/** What the worker sends the plane. */
export const toPlaneSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('dump'), jobId: z.number().int(), job: dumpJobSchema }),
  z.object({ type: z.literal('cancel'), jobId: z.number().int() }),
]);
export type ToPlane = z.infer<typeof toPlaneSchema>;

const serializedErrorSchema = z.object({
  name: z.string(),
  message: z.string(),
  kind: z.enum(errorKinds).optional(),
});
export type SerializedError = z.infer<typeof serializedErrorSchema>;

/** What the plane sends back: progress while a job runs, then exactly one of done or failed. */
export const fromPlaneSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('progress'), jobId: z.number().int(), progress: progressSchema }),
  z.object({
    type: z.literal('done'),
    jobId: z.number().int(),
    result: z.object({ manifest: manifestSchema, copies: z.array(copyOutcomeSchema) }),
  }),
  z.object({ type: z.literal('failed'), jobId: z.number().int(), error: serializedErrorSchema }),
]);
export type FromPlane = z.infer<typeof fromPlaneSchema>;

/** Parses a message or names what is wrong with it; `from` says which side sent it. */
export function parseMessage<T>(schema: z.ZodType<T>, message: unknown, from: string): T {
  const parsed = schema.safeParse(message);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new HindsightError(
    'bad_input',
    `data plane: a message from ${from} was refused: ${issue?.path.join('.') || 'message'}: ${issue?.message ?? 'invalid'}`,
  );
}

/** An error as it crosses the port: its kind survives, so retries and messages stay what they are inline. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof HindsightError) return { name: error.name, message: error.message, kind: error.kind };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

export function deserializeError(error: SerializedError): Error {
  if (error.kind) return new HindsightError(error.kind, error.message);
  const rebuilt = new Error(error.message);
  rebuilt.name = error.name;
  return rebuilt;
}
