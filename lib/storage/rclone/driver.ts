import path from 'node:path';
import { instanceRcloneBinary } from '../../config.ts';
import { assertRange, assertSafeKey, type ObjectInfo, type StorageDriver } from '../contract.ts';
import { isPartialName, sweepPartials } from '../shared/partial-files.ts';
import { parseSettings } from '../shared/settings.ts';
import { rcloneStorageConfig, type RcloneStorageConfig } from './config.ts';
import { rcloneRedactor } from './errors.ts';
import { RcloneRunner, type LsJsonEntry } from './process.ts';
import { openRcloneRead } from './read.ts';
import { openRcloneWrite } from './write.ts';

/**
 * Any rclone remote (Google Drive, Dropbox, OneDrive, SFTP, S3, …) through the `rclone` binary.
 *
 * Writes stream into `rclone rcat <dir>/.<base>.partial-<random>` and commit renames the partial
 * onto the key with `rclone moveto`. Whether that rename is one server-side step depends on the
 * backend: local, sftp, ftp, webdav, Google Drive, Dropbox, OneDrive, pCloud, Box and mega move in
 * place; S3 and its look-alikes, GCS, Azure Blob, B2 and Swift do a server-side copy followed by a
 * delete (commit then costs time proportional to the size, but the key still appears at once, whole);
 * a backend that can do neither makes rclone download and upload the object again. When the key
 * already exists, rclone deletes it just before the move, so replacing an object leaves a short
 * window in which the key is absent, never one in which it is half-written.
 */
export function createRcloneStorage(options: { name: string; config: RcloneStorageConfig }): StorageDriver {
  const label = `rclone "${options.name}"`;
  const config = parseSettings(rcloneStorageConfig, options.config, label);
  // The installation's rclone unless the instance owner named another for this storage
  // (services/storages/privileges.ts): a workspace never chooses what program the worker runs.
  const binary = config.rcloneBinary ?? instanceRcloneBinary();
  const runner = new RcloneRunner({ label, config, binary, redact: rcloneRedactor(config.configText) });

  async function list(dir: string): Promise<ObjectInfo[]> {
    const clean = dir.replace(/\/+$/, '');
    if (clean !== '') assertSafeKey(clean);
    const entries = await runner.listJson<LsJsonEntry[]>('list', clean, [
      'lsjson',
      '-R',
      '--files-only',
      '--no-mimetype',
      '--fast-list',
      runner.at(clean),
    ]);
    if (!entries) return [];
    const base = clean.slice(clean.lastIndexOf('/') + 1);
    // rclone lists a file when pointed at one; a file has nothing below it.
    if (clean !== '' && entries.some((entry) => entry.Path === base) && (await runner.statObject('list', clean)))
      return [];
    const out: ObjectInfo[] = [];
    for (const entry of entries) {
      if (entry.IsDir || isPartialName(path.posix.basename(entry.Path))) continue;
      out.push({
        key: clean === '' ? entry.Path : `${clean}/${entry.Path}`,
        size: entry.Size,
        modifiedAt: new Date(entry.ModTime),
      });
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  return {
    label,

    async openWrite(key) {
      assertSafeKey(key);
      return openRcloneWrite(runner, key);
    },

    async openRead(key, range) {
      assertRange(range);
      assertSafeKey(key);
      return openRcloneRead(runner, key, range);
    },

    async stat(key) {
      assertSafeKey(key);
      return runner.statObject('stat', key);
    },

    list,

    async remove(key) {
      assertSafeKey(key);
      await runner.deleteObject('remove', key);
    },

    // On bucket backends a killed upload is an unfinished multipart upload instead of a partial,
    // never listed here; the bucket's lifecycle rule (AbortIncompleteMultipartUpload) removes those.
    sweepAbandonedWrites: (keyPrefix, olderThanMs) =>
      sweepPartials(keyPrefix, olderThanMs, {
        list: async (dir) =>
          (
            (await runner.listJson<LsJsonEntry[]>('list', dir, [
              'lsjson',
              '--files-only',
              '--no-mimetype',
              runner.at(dir),
            ])) ?? []
          ).map((entry) => ({ name: entry.Name, isFile: !entry.IsDir, modTime: entry.ModTime })),
        modifiedAt: async (_dir, entry) => new Date(entry.modTime),
        remove: (dir, entry) => runner.deleteObject('remove', dir === '' ? entry.name : `${dir}/${entry.name}`),
      }),

    close: () => runner.close(),
  };
}
