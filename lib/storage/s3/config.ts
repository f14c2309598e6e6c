import { z } from 'zod';

/** Storage classes whose objects can be read back at once; archive classes would need a restore first. */
const READABLE_STORAGE_CLASSES = [
  'STANDARD',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
  'REDUCED_REDUNDANCY',
  'EXPRESS_ONEZONE',
] as const;

/**
 * S3 Object Lock: every object is written with this retention, so that nobody (a compromised host
 * included) can delete or overwrite it before its date. The bucket must have Object Lock enabled.
 */
export const s3ObjectLock = z
  .object({
    mode: z.enum(['governance', 'compliance'], { error: 'objectLock.mode must be "governance" or "compliance"' }),
    days: z
      .number({ error: 'objectLock.days must be a whole number of days' })
      .int('objectLock.days must be a whole number of days')
      .min(1, 'objectLock.days must be between 1 and 36500')
      .max(36500, 'objectLock.days must be between 1 and 36500'),
  })
  .strict();
export type S3ObjectLock = z.infer<typeof s3ObjectLock>;

export const s3StorageConfig = z
  .object({
    type: z.literal('s3'),
    bucket: z
      .string({ error: 'bucket is required' })
      .min(1, 'bucket is required')
      .max(255, 'bucket name is too long')
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
        'bucket must be a bare bucket name (letters, digits, dots, hyphens), not a path or URL',
      ),
    region: z.string().min(1, 'region must not be empty').default('us-east-1'),
    endpoint: z
      .url({
        protocol: /^https?$/,
        error: 'endpoint must be an http(s) URL, e.g. https://<account>.r2.cloudflarestorage.com',
      })
      .optional(),
    forcePathStyle: z.boolean().default(false),
    prefix: z
      .string()
      .refine((p) => !p.startsWith('/'), 'prefix must not start with "/"')
      .refine(
        (p) =>
          p === '' ||
          p
            .replace(/\/+$/, '')
            .split('/')
            .every((part) => part !== '' && part !== '.' && part !== '..'),
        'prefix must be a relative path such as "hindsight/" (no empty, "." or ".." parts)',
      )
      .optional(),
    storageClass: z
      .enum(READABLE_STORAGE_CLASSES, {
        error: `storageClass must be one of ${READABLE_STORAGE_CLASSES.join(', ')} (archive classes cannot be read back without a restore)`,
      })
      .optional(),
    serverSideEncryption: z
      .enum(['AES256', 'aws:kms'], { error: 'serverSideEncryption must be "AES256" or "aws:kms"' })
      .optional(),
    sseKmsKeyId: z.string().min(1, 'sseKmsKeyId must not be empty').optional(),
    accessKeyId: z.string().min(1, 'accessKeyId must not be empty').optional(),
    secretAccessKey: z.string().min(1, 'secretAccessKey must not be empty').optional(),
    sessionToken: z.string().min(1, 'sessionToken must not be empty').optional(),
    objectLock: s3ObjectLock.optional(),
  })
  .refine((c) => c.region !== 'auto' || c.endpoint !== undefined, {
    message: 'region "auto" needs an endpoint (it is meant for Cloudflare R2)',
    path: ['region'],
  })
  .refine((c) => c.sseKmsKeyId === undefined || c.serverSideEncryption === 'aws:kms', {
    message: 'sseKmsKeyId needs serverSideEncryption "aws:kms"',
    path: ['sseKmsKeyId'],
  })
  .refine((c) => (c.accessKeyId === undefined) === (c.secretAccessKey === undefined), {
    message: 'accessKeyId and secretAccessKey go together: set both, or neither to use the default credential chain',
    path: ['secretAccessKey'],
  })
  .refine((c) => c.sessionToken === undefined || c.accessKeyId !== undefined, {
    message: 'sessionToken needs accessKeyId and secretAccessKey',
    path: ['sessionToken'],
  });

export type S3StorageConfig = z.infer<typeof s3StorageConfig>;

export const s3SecretFields = ['secretAccessKey', 'sessionToken'] as const;

/** The prefix as keys are joined to it: '' or ending in exactly one slash. */
export function normalizePrefix(prefix: string | undefined): string {
  if (!prefix) return '';
  const trimmed = prefix.replace(/\/+$/, '');
  return trimmed ? `${trimmed}/` : '';
}
