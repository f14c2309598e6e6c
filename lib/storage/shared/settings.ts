import path from 'node:path';
import { z } from 'zod';
import { HindsightError } from '../../errors.ts';
import { assertSafeKey } from '../contract.ts';

/** Settings checked again at the driver's edge: a config may reach it without the API's parse. */
export function parseSettings<S extends z.ZodType>(schema: S, value: unknown, label: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'config'}: ${issue.message}`).join('; ');
  throw new HindsightError('bad_input', `storage ${label}: invalid settings: ${issues}`);
}

/** The parts of a directory given to `list` ('' for the root), checked like a key. */
export function listedDirParts(dir: string): string[] {
  const parts = dir.split('/').filter(Boolean);
  if (parts.length > 0) assertSafeKey(parts.join('/'));
  return parts;
}

/** Settings shared by the drivers that log in to a server (sftp, ftp). */
export const hostSetting = z.string({ error: 'host is required' }).trim().min(1, 'host is required');
export const portSetting = z
  .number()
  .int('port must be a whole number')
  .min(1, 'port must be between 1 and 65535')
  .max(65535, 'port must be between 1 and 65535');
export const usernameSetting = z.string({ error: 'username is required' }).min(1, 'username is required');

/** A server directory without a trailing slash, the form keys are joined to. */
export function serverBase(directory: string): string {
  return path.posix.normalize(directory).replace(/(.)\/+$/, '$1');
}
