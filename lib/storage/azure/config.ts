import type * as AzureBlob from '@azure/storage-blob';
import { createRequire } from 'node:module';
import { z } from 'zod';

const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/;
const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A prefix is a relative path like a key; surrounding slashes are tolerated and ignored. */
export const normalizePrefix = (prefix: string | undefined): string => (prefix ?? '').replace(/^\/+|\/+$/g, '');

// The SDK (hundreds of modules) loads only when a connection string is checked, not with every catalog read.
const require = createRequire(import.meta.url);

function parsesAsConnectionString(value: string): boolean {
  const { BlobServiceClient } = require('@azure/storage-blob') as typeof AzureBlob;
  try {
    BlobServiceClient.fromConnectionString(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Azure immutability: every blob is written with a version-level time-based retention policy until
 * now + days, so that nobody (a compromised host included) can delete or overwrite it before then.
 * 'unlocked' can still be shortened or removed by an account administrator; 'locked' only extended.
 * The container (or its account) must have version-level immutability support enabled.
 */
export const azureImmutability = z
  .object({
    mode: z.enum(['unlocked', 'locked'], { error: 'immutability.mode must be "unlocked" or "locked"' }),
    days: z
      .number({ error: 'immutability.days must be a whole number of days' })
      .int('immutability.days must be a whole number of days')
      .min(1, 'immutability.days must be between 1 and 146000')
      .max(146000, 'immutability.days must be between 1 and 146000'),
  })
  .strict();
export type AzureImmutability = z.infer<typeof azureImmutability>;

export const azureStorageConfig = z
  .object({
    type: z.literal('azure'),
    container: z
      .string({ error: 'container is required' })
      .regex(
        CONTAINER_NAME,
        'container must be 3-63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit',
      ),
    prefix: z
      .string()
      .refine((p) => {
        const normalized = normalizePrefix(p);
        return (
          normalized === '' ||
          normalized.split('/').every((part) => part !== '' && part !== '.' && part !== '..' && !part.includes('\0'))
        );
      }, 'prefix must be a relative path without empty, "." or ".." segments')
      .optional(),
    connectionString: z
      .string()
      .min(1, 'connectionString must not be empty')
      .refine(
        parsesAsConnectionString,
        'connectionString is not a valid Azure Storage connection string (copy it from the storage account\'s "Access keys" page)',
      )
      .optional(),
    accountName: z.string().regex(ACCOUNT_NAME, 'accountName must be 3-24 lowercase letters and digits').optional(),
    accountKey: z
      .string()
      .regex(BASE64, 'accountKey must be the base64 key shown on the storage account\'s "Access keys" page')
      .optional(),
    endpoint: z
      .url({
        protocol: /^https?$/,
        error: 'endpoint must be an http(s) URL, e.g. https://<account>.blob.core.windows.net',
      })
      .optional(),
    immutability: azureImmutability.optional(),
  })
  .superRefine((config, ctx) => {
    if (config.connectionString !== undefined) {
      for (const field of ['accountName', 'accountKey', 'endpoint'] as const) {
        if (config[field] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: `${field} cannot be combined with connectionString: give one or the other`,
          });
      }
      return;
    }
    if (config.accountName === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['accountName'],
        message: 'give either connectionString, or accountName and accountKey',
      });
    if (config.accountKey === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['accountKey'],
        message: 'give either connectionString, or accountName and accountKey',
      });
  });
export type AzureStorageConfig = z.infer<typeof azureStorageConfig>;

export const azureSecretFields = ['connectionString', 'accountKey'] as const;
