import { z } from 'zod';

/** A directory on the worker's host (or an OS-mounted NAS share). */
export const localStorageConfig = z.object({
  type: z.literal('local'),
  path: z
    .string()
    .min(1, 'path is required')
    .refine((p) => p.startsWith('/'), 'path must be absolute'),
});
export type LocalStorageConfig = z.infer<typeof localStorageConfig>;
