/** What a storage is configured with, per driver, and which of its fields are secrets: no driver or SDK loads here. */
import { z } from 'zod';
import { splitSecretFields, type SplitConfig } from '../secret-fields.ts';
import { azureSecretFields, azureStorageConfig } from './azure/config.ts';
import { ftpSecretFields, ftpStorageConfig } from './ftp/config.ts';
import { localStorageConfig } from './local/config.ts';
import { rcloneSecretFields, rcloneStorageConfig } from './rclone/config.ts';
import { s3SecretFields, s3StorageConfig } from './s3/config.ts';
import { sftpSecretFields, sftpStorageConfig } from './sftp/config.ts';

/** Storage configurations, one variant per driver. */
export const storageConfigSchema = z.discriminatedUnion('type', [
  localStorageConfig,
  s3StorageConfig,
  azureStorageConfig,
  sftpStorageConfig,
  ftpStorageConfig,
  rcloneStorageConfig,
]);
export type StorageConfig = z.infer<typeof storageConfigSchema>;
export type StorageType = StorageConfig['type'];

/** Fields sealed with the secret key in the catalog and never shown or logged. */
const secretFields: Record<StorageType, readonly string[]> = {
  local: [],
  s3: s3SecretFields,
  azure: azureSecretFields,
  sftp: sftpSecretFields,
  ftp: ftpSecretFields,
  rclone: rcloneSecretFields,
};

export function splitSecrets(config: StorageConfig): SplitConfig {
  return splitSecretFields(config, secretFields[config.type]);
}

/** Every field name that is a secret in some storage type: audit entries mask these wherever they appear. */
export const storageSecretFieldNames: ReadonlySet<string> = new Set(Object.values(secretFields).flat());

/** The configuration with each secret replaced by a marker: what the audit log records. */
export function maskStorageSecrets(config: StorageConfig): Record<string, unknown> {
  const { settings, secrets } = splitSecrets(config);
  return { ...settings, ...Object.fromEntries(Object.keys(secrets).map((field) => [field, '[secret]'])) };
}

export { localStorageConfig };
