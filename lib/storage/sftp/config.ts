import { createRequire } from 'node:module';
import type * as Ssh2 from 'ssh2';
import { z } from 'zod';
import { hostSetting, portSetting, usernameSetting } from '../shared/settings.ts';

// ssh2 loads only when a private key is checked, not with every catalog read.
const require = createRequire(import.meta.url);
const sshUtils = () => (require('ssh2') as typeof Ssh2).utils;

const absolutePath = z
  .string({ error: 'path is required' })
  .min(1, 'path is required')
  .refine((p) => p.startsWith('/'), 'path must be an absolute directory on the server, e.g. /srv/backups');

export const sftpStorageConfig = z
  .object({
    type: z.literal('sftp'),
    host: hostSetting,
    port: portSetting.default(22),
    username: usernameSetting,
    password: z.string().min(1, 'password must not be empty').optional(),
    privateKey: z.string().min(1, 'privateKey must not be empty').optional(),
    passphrase: z.string().optional(),
    hostKeySha256: z
      .string()
      .trim()
      .regex(
        /^SHA256:[A-Za-z0-9+/]{43}=?$/,
        "hostKeySha256 must be a fingerprint as 'ssh-keygen -lf' prints it: 'SHA256:' and 43 base64 characters",
      )
      .optional(),
    path: absolutePath,
  })
  .superRefine((config, ctx) => {
    if (!config.password && !config.privateKey) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'password or privateKey is required' });
    }
    if (config.privateKey) {
      const parsed = sshUtils().parseKey(config.privateKey, config.passphrase);
      if (parsed instanceof Error) {
        ctx.addIssue({
          code: 'custom',
          path: ['privateKey'],
          message: `privateKey cannot be used: ${parsed.message} (expected PEM or OpenSSH private key text)`,
        });
      }
    }
  });
export type SftpStorageConfig = z.infer<typeof sftpStorageConfig>;

export const sftpSecretFields = ['password', 'privateKey', 'passphrase'] as const;
