import path from 'node:path';
import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';
import type { HindsightError } from '../../errors.ts';
import { storageError, type ObjectInfo } from '../contract.ts';
import { isPartialName, sweepPartialsBelow } from '../shared/partial-files.ts';
import { SFTP_STATUS, statusCode, type SftpFail } from './errors.ts';
import { call } from './session.ts';

const posix = path.posix;
/** Below this much free space a failed write is reported as a full disk. */
const LOW_SPACE_BYTES = 1024 * 1024;

export const statFile = (sftp: SFTPWrapper, file: string) => call<Stats>(sftp, (done) => sftp.stat(file, done));
const readdir = (sftp: SFTPWrapper, dir: string) => call<FileEntryWithStats[]>(sftp, (done) => sftp.readdir(dir, done));

const isDirectory = async (sftp: SFTPWrapper, dir: string): Promise<boolean> =>
  (await statFile(sftp, dir).catch(() => undefined))?.isDirectory() ?? false;

async function mkdir(sftp: SFTPWrapper, dir: string): Promise<void> {
  try {
    await call(sftp, (done) => sftp.mkdir(dir, { mode: 0o750 }, done));
  } catch (error) {
    // Another writer may have created it meanwhile; OpenSSH reports EEXIST as plain failure.
    if (!(await isDirectory(sftp, dir))) throw error;
  }
}

export async function mkdirp(sftp: SFTPWrapper, dir: string): Promise<void> {
  if (await isDirectory(sftp, dir)) return;
  const parent = posix.dirname(dir);
  try {
    await mkdir(sftp, dir);
  } catch (error) {
    if (statusCode(error) !== SFTP_STATUS.NO_SUCH_FILE || parent === dir) throw error;
    await mkdirp(sftp, parent);
    await mkdir(sftp, dir);
  }
}

/** OpenSSH reports ENOSPC as a bare "Failure": ask the file system whether it is full. */
export async function explainWriteError(
  sftp: SFTPWrapper,
  dir: string,
  key: string,
  error: unknown,
  label: string,
  fail: SftpFail,
): Promise<HindsightError> {
  if (statusCode(error) === SFTP_STATUS.FAILURE) {
    try {
      const info = await call<{ f_bavail: number; f_frsize: number }>(sftp, (done) =>
        sftp.ext_openssh_statvfs(dir, done),
      );
      const free = Number(info.f_bavail) * Number(info.f_frsize);
      if (free < LOW_SPACE_BYTES) {
        return storageError(
          'no_space',
          label,
          'write',
          key,
          `${(error as Error).message}: the server has ${free} bytes free in ${dir}`,
        );
      }
    } catch {
      // No statvfs extension: keep the server's own words.
    }
  }
  return fail('write', key, error);
}

export const removeFile = async (sftp: SFTPWrapper, file: string): Promise<void> => {
  try {
    await call(sftp, (done) => sftp.unlink(file, done));
  } catch (error) {
    if (statusCode(error) !== SFTP_STATUS.NO_SUCH_FILE) throw error;
  }
};

export async function replace(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  let posixRename = true;
  await call(sftp, (done) => {
    try {
      sftp.ext_openssh_rename(from, to, done);
    } catch (error) {
      if (!(error instanceof Error && /does not support/.test(error.message))) throw error;
      posixRename = false;
      done(undefined);
    }
  });
  if (posixRename) return;
  // Plain SFTP rename refuses an existing target: the key is briefly absent, never half-written.
  await removeFile(sftp, to);
  await call(sftp, (done) => sftp.rename(from, to, done));
}

export const infoOf = (key: string, attrs: Stats): ObjectInfo => ({
  key,
  size: attrs.size,
  modifiedAt: new Date(attrs.mtime * 1000),
});

/** A directory's entries; none when it does not exist. */
export async function listDir(sftp: SFTPWrapper, dir: string): Promise<FileEntryWithStats[]> {
  try {
    return await readdir(sftp, dir);
  } catch (error) {
    if (statusCode(error) === SFTP_STATUS.NO_SUCH_FILE) return [];
    throw error;
  }
}

export async function walk(sftp: SFTPWrapper, dir: string, prefix: string[], out: ObjectInfo[]): Promise<void> {
  for (const entry of await listDir(sftp, dir)) {
    if (entry.filename === '.' || entry.filename === '..') continue;
    const parts = [...prefix, entry.filename];
    if (entry.attrs.isDirectory()) await walk(sftp, posix.join(dir, entry.filename), parts, out);
    else if (entry.attrs.isFile() && !isPartialName(entry.filename)) out.push(infoOf(parts.join('/'), entry.attrs));
  }
}

/** Removes the partial files of abandoned writes to keys starting with `keyPrefix` below `base`. */
export function sweepSftpPartials(
  sftp: SFTPWrapper,
  base: string,
  keyPrefix: string,
  olderThanMs: number,
): Promise<number> {
  return sweepPartialsBelow(base, keyPrefix, olderThanMs, {
    list: async (dir) =>
      (await listDir(sftp, dir)).map((entry) => ({
        name: entry.filename,
        isFile: entry.attrs.isFile(),
        mtime: entry.attrs.mtime,
      })),
    modifiedAt: async (_dir, entry) => new Date(entry.mtime * 1000),
    remove: (dir, entry) => removeFile(sftp, posix.join(dir, entry.name)),
  });
}
