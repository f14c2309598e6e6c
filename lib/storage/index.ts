import { z } from 'zod';
import { HindsightError } from '../errors.ts';
import type { StorageDriver } from './contract.ts';
import { createLocalStorage } from './local.ts';

export const localStorageConfig = z.object({
  type: z.literal('local'),
  path: z.string().min(1, 'path is required').refine((p) => p.startsWith('/'), 'path must be absolute'),
});

/** Storage configurations, one variant per driver; other drivers join this union. */
export const storageConfigSchema = z.discriminatedUnion('type', [localStorageConfig]);
export type StorageConfig = z.infer<typeof storageConfigSchema>;

export function createStorageDriver(name: string, config: StorageConfig): StorageDriver {
  switch (config.type) {
    case 'local':
      return createLocalStorage({ name, root: config.path });
    default:
      throw new HindsightError('bad_input', `storage "${name}" has unknown type`);
  }
}

export type { StorageDriver, AtomicWrite, ObjectInfo } from './contract.ts';
