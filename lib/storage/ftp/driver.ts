import path from 'node:path';
import { HindsightError } from '../../errors.ts';
import { assertRange, assertSafeKey, type ObjectInfo, type StorageDriver } from '../contract.ts';
import { makeRedactor } from '../shared/redact.ts';
import { listedDirParts, serverBase } from '../shared/settings.ts';
import type { FtpStorageConfig } from './config.ts';
import { FtpConnections } from './connection.ts';
import { ftpFailure } from './errors.ts';
import { removeOn, statOn, sweepFtpPartials, walk } from './files.ts';
import { openFtpRead } from './read.ts';
import { openFtpWrite } from './write.ts';

const posix = path.posix;

/**
 * A directory on an FTP or FTPS server. Writes go to a hidden partial file next to the target
 * and are renamed over it on commit.
 */
export function createFtpStorage(options: { name: string; config: FtpStorageConfig }): StorageDriver {
  const config = options.config;
  const label = `ftp "${options.name}"`;
  const port = config.port ?? (config.secure === 'implicit' ? 990 : 21);
  const base = serverBase(config.path);
  if (/[\r\n]/.test(base)) throw new HindsightError('bad_input', `storage ${label}: path must not contain line breaks`);
  const redact = makeRedactor([config.password], { marker: '***' });
  const fail = ftpFailure(label, redact);
  const connections = new FtpConnections({ config, label, port, redact });
  const remote = (key: string): string => {
    assertSafeKey(key);
    if (/[\r\n]/.test(key))
      throw new HindsightError(
        'bad_input',
        `storage key '${JSON.stringify(key).slice(1, -1)}' contains a line break, which FTP cannot carry`,
      );
    return posix.join(base, key);
  };

  return {
    label,

    openWrite: async (key) => openFtpWrite({ connections, label, key, target: remote(key), fail }),

    async openRead(key, range) {
      assertRange(range);
      return openFtpRead(connections, key, remote(key), range, fail);
    },

    async stat(key) {
      const file = remote(key);
      try {
        return await connections.withControl((c) => statOn(c, key, file));
      } catch (error) {
        throw fail('stat', key, error);
      }
    },

    async list(dir) {
      const parts = listedDirParts(dir);
      const out: ObjectInfo[] = [];
      try {
        await connections.withControl((c) => walk(c, posix.join(base, ...parts), parts, out));
      } catch (error) {
        throw fail('list', dir, error);
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },

    async remove(key) {
      const file = remote(key);
      try {
        await connections.withControl((c) => removeOn(c, file));
      } catch (error) {
        throw fail('remove', key, error);
      }
    },

    async sweepAbandonedWrites(keyPrefix, olderThanMs) {
      remote(keyPrefix);
      try {
        return await connections.withControl((c) => sweepFtpPartials(c, base, keyPrefix, olderThanMs));
      } catch (error) {
        throw fail('remove', keyPrefix, error);
      }
    },

    close: () => connections.close(),
  };
}
