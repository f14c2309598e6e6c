import path from 'node:path';
import type { StorageConfig } from '../storage/index.ts';

const trimSlashes = (s: string | undefined): string => (s ?? '').replace(/^\/+|\/+$/g, '');
const joinKey = (...parts: Array<string | undefined>): string => parts.map(trimSlashes).filter(Boolean).join('/');

/**
 * Where an object is, in the form a script can use: a file path for local storage, a URL for
 * the others (s3://bucket/key, sftp://host:port/path/key, …). Credentials are never part of it.
 */
export function objectLocation(storageName: string, config: StorageConfig, key: string): string {
  const c = config as StorageConfig & Record<string, unknown>;
  switch (config.type) {
    case 'local':
      return path.join(config.path, ...key.split('/'));
    case 's3':
      return `s3://${joinKey(String(c.bucket), c.prefix as string | undefined, key)}`;
    case 'azure':
      return `azure://${joinKey(String(c.container), c.prefix as string | undefined, key)}`;
    case 'sftp':
    case 'ftp':
      return `${config.type}://${String(c.host)}${c.port ? `:${String(c.port)}` : ''}/${joinKey(c.path as string | undefined, key)}`;
    case 'rclone': {
      const remote = String(c.remote).replace(/\/+$/, '');
      return `${remote}${remote.endsWith(':') ? '' : '/'}${key}`;
    }
    default:
      return `${storageName}:${key}`;
  }
}
