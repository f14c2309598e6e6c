import { createRequire } from 'node:module';
import { HindsightError } from '../errors.ts';
import type { StorageConfig } from './config.ts';
import type { StorageDriver } from './contract.ts';
import type * as LocalDriver from './local/driver.ts';
import type * as S3Driver from './s3/driver.ts';
import type * as AzureDriver from './azure/driver.ts';
import type * as SftpDriver from './sftp/driver.ts';
import type * as FtpDriver from './ftp/driver.ts';
import type * as RcloneDriver from './rclone/driver.ts';

// A driver module brings its SDK (Azure's alone is hundreds of modules): it loads when the first storage of
// its type is opened, so a command that only reads the catalog loads none of them.
const require = createRequire(import.meta.url);
const local = () => require('./local/driver.ts') as typeof LocalDriver;
const s3 = () => require('./s3/driver.ts') as typeof S3Driver;
const azure = () => require('./azure/driver.ts') as typeof AzureDriver;
const sftp = () => require('./sftp/driver.ts') as typeof SftpDriver;
const ftp = () => require('./ftp/driver.ts') as typeof FtpDriver;
const rclone = () => require('./rclone/driver.ts') as typeof RcloneDriver;

export function createStorageDriver(name: string, config: StorageConfig): StorageDriver {
  switch (config.type) {
    case 'local':
      return local().createLocalStorage({ name, root: config.path });
    case 's3':
      return s3().createS3Storage({ name, config });
    case 'azure':
      return azure().createAzureStorage({ name, config });
    case 'sftp':
      return sftp().createSftpStorage({ name, config });
    case 'ftp':
      return ftp().createFtpStorage({ name, config });
    case 'rclone':
      return rclone().createRcloneStorage({ name, config });
    default:
      throw new HindsightError('bad_input', `storage "${name}" has unknown type`);
  }
}

export * from './config.ts';
export type { StorageDriver, AtomicWrite, ObjectInfo } from './contract.ts';
