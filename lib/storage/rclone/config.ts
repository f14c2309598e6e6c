import { z } from 'zod';

export const rcloneStorageConfig = z.object({
  type: z.literal('rclone'),
  remote: z
    .string({ error: 'remote is required, e.g. "gdrive:backups"' })
    .trim()
    .min(1, 'remote is required, e.g. "gdrive:backups"')
    .refine((remote) => !remote.startsWith('-'), 'remote must not start with "-"')
    .refine((remote) => {
      const colon = remote.indexOf(':');
      return colon >= 0 && !remote.slice(0, colon).includes('/');
    }, 'remote must name an rclone remote and a path, e.g. "gdrive:backups" or ":s3,provider=Minio,endpoint=...:bucket/path"'),
  configText: z.string().optional(),
  rcloneBinary: z.string().trim().min(1, 'rcloneBinary must be a path to the rclone binary when given').optional(),
  extraFlags: z
    .array(
      z
        .string()
        .refine(
          (flag) => /^--[A-Za-z0-9]/.test(flag),
          'each extra flag must start with "--" (give values as --flag=value)',
        )
        .refine(
          (flag) => !/^--config(=|$)/.test(flag),
          'extra flags must not set --config: put the configuration in configText',
        ),
    )
    .optional(),
});
export type RcloneStorageConfig = z.infer<typeof rcloneStorageConfig>;

export const rcloneSecretFields = ['configText'] as const;
