/**
 * Stream-extracts a base backup into a data directory: storage → decrypt → `zstd -d` → `tar -x`,
 * with no intermediate file. tar runs as the server's (sandbox) user, with a scrubbed environment,
 * so that every file is born with the owner PostgreSQL needs and nothing in the archive can land
 * where that user could not write anyway.
 */
import { spawn } from 'node:child_process';
import { chmod, lstat, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { DecryptionKey } from '../crypto/chunked-gcm.ts';
import { HindsightError, errorMessage } from '../errors.ts';
import { stderrTail, waitForExit } from '../backup/child-process.ts';
import { ByteMeter } from '../backup/byte-meter.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { openDecoded } from '../wal/segment-codec.ts';
import { asServerUser, handToServerUser, serverEnv, serverOsUser, serverUserCanEnter } from './os-user.ts';

/** Names the restore that owns a directory, so that a retry of the same restore may clean it. */
export const MARKER = 'hindsight-restore.id';

/**
 * The restore directory must be empty or absent: restoring over anything else could destroy a
 * live cluster. Returns whether it was created.
 */
export async function prepareDataDirectory(
  dir: string,
  restoreId: string,
  stopLeftover: () => Promise<void>,
): Promise<{ created: boolean }> {
  const info = await stat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new HindsightError(
      'access_denied',
      `cannot look at restore directory ${dir}: ${error.code ?? errorMessage(error)}`,
    );
  });
  if (info && !info.isDirectory())
    throw new HindsightError(
      'bad_input',
      `restore directory ${dir} exists and is not a directory: choose an empty or absent directory`,
    );
  if (info) {
    let entries = await readdir(dir);
    // An earlier attempt of this same restore, whose worker died: its server is stopped and its files go.
    if (
      entries.includes(MARKER) &&
      (await readFile(path.join(dir, MARKER), 'utf8').catch(() => '')).trim() === restoreId
    ) {
      await stopLeftover();
      await emptyDirectory(dir);
      entries = await readdir(dir);
    }
    if (entries.length > 0) {
      throw new HindsightError(
        'bad_input',
        `restore directory ${dir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}): a restore never writes over existing files; choose an empty or absent directory`,
      );
    }
  } else {
    // Parents with the default mode (the server's user must traverse them), the directory itself 0700.
    await mkdir(path.dirname(dir), { recursive: true });
    await mkdir(dir, { mode: 0o700 });
  }
  if (!(await serverUserCanEnter(path.dirname(dir)))) {
    throw new HindsightError(
      'access_denied',
      `PostgreSQL runs as user "${serverOsUser()}" and cannot reach ${path.dirname(dir)}: make it and its parents traversable (chmod o+x) or restore elsewhere`,
    );
  }
  await handToServerUser(dir);
  await chmod(dir, 0o700);
  const marker = path.join(dir, MARKER);
  await writeFile(marker, `${restoreId}\n`, { mode: 0o600 });
  // The server's own, like every file of its directory: a base backup of a kept copy reads them all.
  await handToServerUser(marker);
  return { created: !info };
}

/** Empties a directory the restore filled, leaving the (empty) directory itself and any entry of `keep`. */
export async function emptyDirectory(dir: string, keep: readonly string[] = []): Promise<void> {
  const entries = (await readdir(dir).catch(() => [] as string[])).filter((e) => !keep.includes(e));
  await Promise.all(entries.map((e) => rm(path.join(dir, e), { recursive: true, force: true, maxRetries: 3 })));
}

export async function extractBaseBackup(options: {
  driver: StorageDriver;
  objectKey: string;
  key: DecryptionKey;
  dataDir: string;
  /** The catalog's SHA-256 of the tar: a mismatch fails the restore, and the directory is emptied again. */
  expectedSha256?: string | null;
  signal?: AbortSignal;
  onBytes?: (bytes: number) => void;
}): Promise<{ rawBytes: number; storedBytes: number }> {
  const { stream, done } = await openDecoded({
    driver: options.driver,
    objectKey: options.objectKey,
    key: options.key,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const [cmd, args] = asServerUser('tar', ['-x', '-f', '-', '-C', options.dataDir, '--no-same-owner']);
  const tar = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], cwd: '/', env: serverEnv() });
  const stderr = stderrTail(tar);
  const exited = waitForExit(tar);
  const meter = new ByteMeter(options.onBytes);
  try {
    await (options.signal
      ? pipeline(stream, meter, tar.stdin, { signal: options.signal })
      : pipeline(stream, meter, tar.stdin));
    const [result, exit] = await Promise.all([done, exited]);
    if (exit.code !== 0)
      throw new HindsightError(
        'tool_failed',
        `tar failed extracting base backup ${options.objectKey}: ${stderr() || `exit code ${exit.code}`}`,
      );
    if (options.expectedSha256 && result.rawSha256 !== options.expectedSha256) {
      throw new HindsightError(
        'integrity',
        `base backup ${options.objectKey} in storage ${options.driver.label} decodes to SHA-256 ${result.rawSha256}, but the catalog recorded ${options.expectedSha256}`,
      );
    }
    await finishDataDirectory(options.dataDir);
    return { rawBytes: result.rawBytes, storedBytes: result.storedBytes };
  } catch (error) {
    tar.kill('SIGKILL');
    await exited.catch(() => undefined);
    await done.catch(() => undefined);
    // What tar wrote before the object failed is part of no cluster: nothing may ever start from it.
    await emptyDirectory(options.dataDir, [MARKER]).catch(() => undefined);
    throw error;
  }
}

/**
 * What a base backup lacks to start: `pg_wal/` may be absent (WAL comes from the archive). A
 * `pg_wal` that is not a real directory (pg_basebackup always sends a directory, so only a forged
 * archive holds a link there) is replaced: the server would write WAL wherever it pointed. The
 * configuration is written later, from an allow-list (server-config.ts).
 */
export async function finishDataDirectory(dataDir: string): Promise<void> {
  const label = await lstat(path.join(dataDir, 'backup_label')).catch(() => undefined);
  if (!label?.isFile()) {
    throw new HindsightError(
      'integrity',
      `the extracted base backup in ${dataDir} has no backup_label: it is not a pg_basebackup archive`,
    );
  }
  for (const sub of ['pg_wal', 'pg_wal/archive_status']) {
    const dir = path.join(dataDir, sub);
    const info = await lstat(dir).catch(() => undefined);
    if (info?.isDirectory()) continue;
    if (info) await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o700 });
    await handToServerUser(dir);
  }
}
