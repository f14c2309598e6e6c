import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import type { ErrorKind } from '../errors.ts';
import { assertRange, assertSafeKey, storageError, type AtomicWrite, type ObjectInfo, type StorageDriver } from './contract.ts';

/** Marks temporary files: `<dir>/.<name>.partial-<random>`. Listing never shows them. */
const PARTIAL_MARK = '.partial-';

function kindOf(error: unknown): ErrorKind {
  switch ((error as NodeJS.ErrnoException).code) {
    case 'ENOENT': return 'not_found';
    case 'EACCES': case 'EPERM': case 'EROFS': return 'access_denied';
    case 'ENOSPC': case 'EDQUOT': return 'no_space';
    case 'EIO': case 'ENOTCONN': case 'ESTALE': case 'EHOSTDOWN': return 'unreachable';
    default: return 'tool_failed';
  }
}

/**
 * A directory on this host; an OS-mounted NAS share (NFS, SMB) is a local path too.
 * Writes go to a hidden partial file, are fsynced, then renamed: rename(2) is atomic within a
 * file system, so a reader sees the whole object or none of it.
 */
export function createLocalStorage(options: { name: string; root: string }): StorageDriver {
  const label = `local "${options.name}"`;
  const root = path.resolve(options.root);
  const resolve = (key: string): string => {
    assertSafeKey(key);
    return path.join(root, ...key.split('/'));
  };
  const fail = (op: Parameters<typeof storageError>[2], key: string, error: unknown) =>
    storageError(kindOf(error), label, op, key, (error as Error).message);

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
      else if (entry.isFile() && !entry.name.includes(PARTIAL_MARK)) {
        const info = await stat(full);
        out.push({ key, size: info.size, modifiedAt: info.mtime });
      }
    }
  }

  return {
    label,

    async openWrite(key) {
      const target = resolve(key);
      const dir = path.dirname(target);
      try {
        await mkdir(dir, { recursive: true });
        const fs = await statfs(dir);
        if (fs.bavail * fs.bsize < 16 * 1024 * 1024) {
          throw Object.assign(new Error(`only ${fs.bavail * fs.bsize} bytes free in ${dir}`), { code: 'ENOSPC' });
        }
      } catch (error) {
        throw fail('write', key, error);
      }
      const partial = path.join(dir, `.${path.basename(target)}${PARTIAL_MARK}${randomBytes(6).toString('hex')}`);
      const file = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
      // The caller sees the storage's words (kind no_space for a full disk), not a bare errno.
      const stream = new Writable({
        highWaterMark: 256 * 1024,
        write(chunk: Buffer, _encoding, callback) {
          file.write(chunk, (error) => callback(error ? fail('write', key, error) : null));
        },
        final(callback) {
          file.end((error?: Error | null) => callback(error ? fail('write', key, error) : null));
        },
        destroy(error, callback) {
          file.destroy();
          callback(error);
        },
      });
      file.on('error', (error) => stream.destroy(fail('write', key, error)));
      let settled = false;
      const write: AtomicWrite = {
        stream,
        async commit() {
          if (settled) throw fail('write', key, new Error('write already settled'));
          settled = true;
          try {
            if (!stream.writableFinished) await finished(stream);
            if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()));
            const handle = await open(partial, 'r');
            try { await handle.sync(); } finally { await handle.close(); }
            await rename(partial, target);
            const dirHandle = await open(dir, 'r');
            try { await dirHandle.sync(); } finally { await dirHandle.close(); }
            const info = await stat(target);
            return { key, size: info.size, modifiedAt: info.mtime };
          } catch (error) {
            await rm(partial, { force: true });
            throw fail('write', key, error);
          }
        },
        async abort() {
          if (settled) return;
          settled = true;
          // The file may still be opening: wait until the stream has closed it, then remove it.
          stream.destroy();
          if (!file.closed) {
            const closed = new Promise<void>((resolve) => file.once('close', () => resolve()));
            file.destroy();
            await closed;
          }
          await rm(partial, { force: true });
        },
      };
      return write;
    },

    async openRead(key, range): Promise<Readable> {
      assertRange(range);
      const file = resolve(key);
      try {
        const handle = await open(file, 'r');
        if (range?.end === range?.start && range) {
          await handle.close();
          return Readable.from([]);
        }
        const bounds = range ? { start: range.start, ...(range.end !== undefined ? { end: range.end - 1 } : {}) } : {};
        return createReadStream('', { fd: handle, autoClose: true, highWaterMark: 256 * 1024, ...bounds });
      } catch (error) {
        throw fail('read', key, error);
      }
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

    async sweepAbandonedWrites(keyPrefix, olderThanMs) {
      // A partial file of key K is named `.<basename K><mark><random>` in K's directory.
      const target = resolve(keyPrefix);
      const dir = path.dirname(target);
      const start = `.${path.basename(target)}`;
      let removed = 0;
      let entries: string[];
      try {
        entries = await readdir(dir);
      } catch {
        return 0;
      }
      for (const name of entries) {
        if (!name.startsWith(start) || !name.includes(PARTIAL_MARK)) continue;
        const full = path.join(dir, name);
        const info = await stat(full).catch(() => undefined);
        if (info && Date.now() - info.mtimeMs >= olderThanMs) {
          await rm(full, { force: true });
          removed += 1;
        }
      }
      return removed;
    },
  };
}
