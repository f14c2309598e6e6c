import { z } from 'zod';
import { hostSetting, portSetting, usernameSetting } from '../shared/settings.ts';

/** FTP commands are lines of text: a line break inside a value would start another command. */
const oneLine = (field: string) =>
  [(value: string) => !/[\r\n]/.test(value), `${field} must not contain line breaks`] as const;

export const ftpStorageConfig = z.object({
  type: z.literal('ftp'),
  host: hostSetting,
  /** 21, or 990 with implicit TLS, when absent. */
  port: portSetting.optional(),
  username: usernameSetting.refine(...oneLine('username')),
  password: z
    .string({ error: 'password is required' })
    .min(1, 'password is required')
    .refine(...oneLine('password')),
  secure: z
    .union([z.boolean(), z.literal('implicit')], {
      error: "secure must be false, true (explicit FTPS, AUTH TLS) or 'implicit'",
    })
    .default(false),
  allowSelfSignedCertificate: z.boolean().default(false),
  path: z
    .string({ error: 'path is required' })
    .min(1, 'path is required')
    .refine((p) => p.startsWith('/'), 'path must be an absolute directory on the server, e.g. /backups')
    .refine(...oneLine('path')),
});
export type FtpStorageConfig = z.infer<typeof ftpStorageConfig>;

export const ftpSecretFields = ['password'] as const;
