import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { assertRange, assertSafeKey, type ObjectInfo, type StorageDriver } from '../contract.ts';
import { isPartialName, sweepPartials } from '../shared/partial-files.ts';
import { localFailure } from './errors.ts';
import { openLocalRead } from './read.ts';
import { openLocalWrite } from './write.ts';

async function walk(dir: string, prefixParts: string[], out: ObjectInfo[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    const key = [...prefixParts, entry.name].join('/');
    if (entry.isDirectory()) await walk(full, [...prefixParts, entry.name], out);
    else if (entry.isFile() && !isPartialName(entry.name)) {
      const info = await stat(full);
      out.push({ key, size: info.size, modifiedAt: info.mtime });
    }
  }
}

/**
 * A directory on this host; an OS-mounted NAS share (NFS, SMB) is a local path too. Keys are
 * relative paths below the root.
 */
export function createLocalStorage(options: { name: string; root: string }): StorageDriver {
  const label = `local "${options.name}"`;
  const root = path.resolve(options.root);
  const resolve = (key: string): string => {
    assertSafeKey(key);
    return path.join(root, ...key.split('/'));
  };
  const fail = localFailure(label);

  return {
    label,

    openWrite: async (key) => openLocalWrite(label, key, resolve(key), fail),

    async openRead(key, range) {
      assertRange(range);
      return openLocalRead(key, resolve(key), range, fail);
    },

    async stat(key) {
      try {
        const info = await stat(resolve(key));
        return { key, size: info.size, modifiedAt: info.mtime };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw fail('stat', key, error);
      }
    },

    async list(prefix) {
      const parts = prefix.split('/').filter(Boolean);
      const out: ObjectInfo[] = [];
      try {
        await walk(path.join(root, ...parts), parts, out);
      } catch (error) {
        throw fail('list', prefix, error);
      }
      return out.sort((a, b) => a.key.localeCompare(b.key));
    },

    async remove(key) {
      try {
        await rm(resolve(key), { force: true });
      } catch (error) {
        throw fail('remove', key, error);
      }
    },

    sweepAbandonedWrites: (keyPrefix, olderThanMs) =>
      sweepPartials(keyPrefix, olderThanMs, {
        // An unreadable directory holds nothing this sweep could remove.
        list: async (dir) =>
          (await readdir(resolveDir(root, dir), { withFileTypes: true }).catch(() => [])).map((entry) => ({
            name: entry.name,
            isFile: entry.isFile(),
          })),
        modifiedAt: async (dir, entry) =>
          (await stat(path.join(resolveDir(root, dir), entry.name)).catch(() => undefined))?.mtime,
        remove: (dir, entry) => rm(path.join(resolveDir(root, dir), entry.name), { force: true }),
      }),
  };
}

const resolveDir = (root: string, dir: string): string => path.join(root, ...dir.split('/').filter(Boolean));
