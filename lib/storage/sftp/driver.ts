import path from 'node:path';
import { assertRange, assertSafeKey, type ObjectInfo, type StorageDriver } from '../contract.ts';
import { makeRedactor } from '../shared/redact.ts';
import { listedDirParts, serverBase } from '../shared/settings.ts';
import type { SftpStorageConfig } from './config.ts';
import { SFTP_STATUS, sftpFailure, statusCode } from './errors.ts';
import { infoOf, removeFile, statFile, sweepSftpPartials, walk } from './files.ts';
import { openSftpRead } from './read.ts';
import { SftpSessions } from './session.ts';
import { openSftpWrite } from './write.ts';

const posix = path.posix;

/**
 * A directory on an SSH server, reached over SFTP. Writes go to a hidden partial file next to
 * the target and are renamed over it on commit. One SSH connection per driver carries every
 * operation: SFTP multiplexes requests.
 */
export function createSftpStorage(options: { name: string; config: SftpStorageConfig }): StorageDriver {
  const config = options.config;
  const label = `sftp "${options.name}"`;
  const base = serverBase(config.path);
  const redact = makeRedactor([config.password, config.passphrase], { marker: '***' });
  const fail = sftpFailure(label, redact);
  const sessions = new SftpSessions({ config, label, endpoint: `${config.host}:${config.port}`, redact });
  const remote = (key: string): string => {
    assertSafeKey(key);
    return posix.join(base, key);
  };

  return {
    label,

    async openWrite(key) {
      const target = remote(key);
      return openSftpWrite({ sftp: await sessions.connect(), label, key, target, fail });
    },

    async openRead(key, range) {
      assertRange(range);
      const file = remote(key);
      return openSftpRead(await sessions.connect(), key, file, range, fail);
    },

    async stat(key) {
      const file = remote(key);
      const sftp = await sessions.connect();
      try {
        return infoOf(key, await statFile(sftp, file));
      } catch (error) {
        if (statusCode(error) === SFTP_STATUS.NO_SUCH_FILE) return undefined;
        throw fail('stat', key, error);
      }
    },

    async list(dir) {
      const parts = listedDirParts(dir);
      const sftp = await sessions.connect();
      const out: ObjectInfo[] = [];
      try {
        await walk(sftp, posix.join(base, ...parts), parts, out);
      } catch (error) {
        throw fail('list', dir, error);
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },

    async remove(key) {
      const file = remote(key);
      const sftp = await sessions.connect();
      try {
        await removeFile(sftp, file);
      } catch (error) {
        throw fail('remove', key, error);
      }
    },

    async sweepAbandonedWrites(keyPrefix, olderThanMs) {
      assertSafeKey(keyPrefix);
      const sftp = await sessions.connect();
      try {
        return await sweepSftpPartials(sftp, base, keyPrefix, olderThanMs);
      } catch (error) {
        throw fail('remove', keyPrefix, error);
      }
    },

    close: () => sessions.close(),
  };
}
