/**
 * A physical base backup streamed straight into storage: `pg_basebackup -D - -Ft -X none` writes
 * one tar (the data directory plus backup_label and backup_manifest) to stdout, which goes through
 * `zstd -5` and the chunked AES-256-GCM encrypter into an atomic storage write. No intermediate
 * file; the WAL it needs comes from the archive, not from the backup (hence `-X none`, which is
 * also the only mode in which pg_basebackup can write a tar to stdout). On PostgreSQL 17+ it may be
 * an increment over an earlier backup (`--incremental=<its backup_manifest>`); either way the
 * backup's own backup_manifest is also stored as an object of its own, so that the next increment
 * can be taken from storage and the key alone.
 */
import { spawn } from 'node:child_process';
import { HindsightError } from '../errors.ts';
import { stderrTail, waitForExit } from '../backup/child-process.ts';
import { libpqChildEnv, type PgTarget } from '../pg/connection.ts';
import { checkedServerClock } from '../pg/server-clock.ts';
import { toolFor } from '../pg/tools.ts';
import type { EncryptionKey } from '../crypto/chunked-gcm.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { parseLsn, type Lsn } from './lsn.ts';
import { BASE_BACKUP_ZSTD_LEVEL, compressEncryptToStorage } from './segment-codec.ts';
import { ManifestSpill, type StoredManifest } from './manifest-spill.ts';
import { TarEntryWatcher } from './tar-watch.ts';

export interface BaseBackupResult {
  startLsn: Lsn;
  stopLsn: Lsn;
  timeline: number;
  startTime: Date;
  stopTime: Date;
  /** The tar's bytes and SHA-256; the stored object's bytes and SHA-256. */
  sizeBytes: number;
  sha256: string;
  storedBytes: number;
  storedSha256: string;
  toolVersion: string;
  /** The backup's own backup_manifest, stored as its own object (what the next increment is taken against). */
  manifest: StoredManifest;
}

/**
 * The positions of a base backup, from its own files: backup_label has
 * "START WAL LOCATION: 0/2000028 (file …)" and "START TIMELINE: 1"; backup_manifest's "WAL-Ranges"
 * has the end LSN (pg_basebackup -v prints the positions only when it fetches WAL itself).
 */
export function parseBackupPositions(
  label: string,
  manifestTail: string,
): { startLsn: Lsn; timeline: number; stopLsn: Lsn } | undefined {
  const start = /^START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+)/im.exec(label);
  const timeline = /^START TIMELINE: (\d+)/im.exec(label);
  const range =
    /"WAL-Ranges"\s*:\s*\[[^\]]*"Timeline"\s*:\s*(\d+)\s*,\s*"Start-LSN"\s*:\s*"([0-9A-F]+\/[0-9A-F]+)"\s*,\s*"End-LSN"\s*:\s*"([0-9A-F]+\/[0-9A-F]+)"/i.exec(
      manifestTail,
    );
  if (!start || !range) return undefined;
  return { startLsn: parseLsn(start[1]!), timeline: Number(timeline?.[1] ?? range[1]), stopLsn: parseLsn(range[3]!) };
}

function explainFailure(database: string, stderr: string, code: number | null): HindsightError {
  const last =
    stderr
      .split('\n')
      .filter((l) => l && !/^pg_basebackup: (initiating|checkpoint|write-ahead log start)/.test(l))
      .slice(-3)
      .join(' | ') || `exit code ${code}`;
  if (
    /no pg_hba\.conf entry for replication|must be superuser or replication role|permission denied to start WAL sender/i.test(
      stderr,
    )
  ) {
    return new HindsightError(
      'access_denied',
      `database "${database}": pg_basebackup was refused: ${last} (give the role REPLICATION and allow "replication" connections for it in pg_hba.conf)`,
    );
  }
  if (/password authentication failed/i.test(stderr))
    return new HindsightError(
      'access_denied',
      `database "${database}": pg_basebackup could not log in: ${last} (check the saved password)`,
    );
  if (/tablespace/i.test(stderr) && /stdout|standard output/i.test(stderr)) {
    return new HindsightError(
      'bad_input',
      `database "${database}": ${last} (streaming a base backup needs a cluster without extra tablespaces)`,
    );
  }
  if (/number of requested standby connections exceeds|too many clients|max_wal_senders/i.test(stderr)) {
    return new HindsightError(
      'busy',
      `database "${database}": pg_basebackup found no free WAL sender: ${last} (raise max_wal_senders)`,
    );
  }
  return new HindsightError('tool_failed', `database "${database}": pg_basebackup failed: ${last}`);
}

export interface StreamBaseBackupOptions {
  database: string;
  label: string;
  target: PgTarget;
  serverMajor?: number;
  driver: StorageDriver;
  objectKey: string;
  key: EncryptionKey;
  /** Where the backup's backup_manifest is stored (encrypted, like the backup itself). */
  manifestKey: string;
  /** A private directory of the worker's (0700) for the manifest on its way to storage. */
  workDir: string;
  /** The parent's backup_manifest, decoded to a file of workDir: the backup is an increment over it. */
  incrementalFrom?: string;
  signal?: AbortSignal;
  onProgress?: (progress: { rawBytes: number }) => void;
}

export async function streamBaseBackupToStorage(options: StreamBaseBackupOptions): Promise<BaseBackupResult> {
  const tool = await toolFor('pg_basebackup', options.serverMajor);
  // On the source's clock, which its commit timestamps (a PITR target's reference) are on: a backup
  // dated by a worker whose clock runs ahead would look to start after targets it covers.
  const startTime = await checkedServerClock(options.database, options.target);
  const spill = new ManifestSpill(options.workDir);
  let manifest: StoredManifest | undefined;
  let stopTime: Date | undefined;
  const child = spawn(tool.path, pgBasebackupArgs(options), {
    env: libpqChildEnv(options.target),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = stderrTail(child, 64 * 1024);
  const exited = waitForExit(child);
  const kill = () => child.kill('SIGTERM');
  options.signal?.addEventListener('abort', kill, { once: true });
  // The whole manifest goes to a file (it grows with the number of files), only its tail stays in memory.
  const watcher = new TarEntryWatcher(new Set(['backup_label', 'backup_manifest']), 64 * 1024, (name, bytes) => {
    if (name === 'backup_manifest') spill.write(bytes);
  });
  const positions = () =>
    parseBackupPositions(
      watcher.captured.get('backup_label')?.toString('utf8') ?? '',
      watcher.captured.get('backup_manifest')?.toString('utf8') ?? '',
    );
  let stored;
  try {
    stored = await compressEncryptToStorage({
      source: child.stdout.pipe(watcher),
      driver: options.driver,
      objectKey: options.objectKey,
      key: options.key,
      level: BASE_BACKUP_ZSTD_LEVEL,
      // zstd's own worker threads keep compression off pg_basebackup's critical path.
      threads: 0,
      ...(options.signal ? { signal: options.signal } : {}),
      onRawBytes: (rawBytes) => options.onProgress?.({ rawBytes }),
      // The tar's end is not its success: nothing is committed unless pg_basebackup says it finished.
      beforeCommit: async () => {
        const { code } = await exited;
        checkBaseBackupComplete(options.database, { code, stderr: stderr(), watcher, positions: positions() });
        // Read once pg_basebackup has exited, so no earlier than the moment the backup became
        // consistent: its window never starts before it. Before the commit, so that a failure here
        // leaves nothing stored.
        stopTime = await checkedServerClock(options.database, options.target);
        // Stored before the backup is committed: a committed base backup always has its manifest beside it.
        manifest = await spill.upload({
          driver: options.driver,
          objectKey: options.manifestKey,
          key: options.key,
          signal: options.signal,
        });
      },
    });
  } catch (error) {
    child.kill('SIGTERM');
    const { code } = await exited.catch(() => ({ code: null }));
    throw streamFailure(options, error, code, stderr());
  } finally {
    options.signal?.removeEventListener('abort', kill);
    spill.close();
  }
  return {
    ...positions()!,
    startTime,
    stopTime: stopTime!,
    sizeBytes: stored.rawBytes,
    sha256: stored.rawSha256,
    storedBytes: stored.storedBytes,
    storedSha256: stored.storedSha256,
    toolVersion: tool.version,
    manifest: manifest!,
  };
}

/** A tar of the data directory on stdout, without WAL: the archive holds it (-X none). */
function pgBasebackupArgs(options: StreamBaseBackupOptions): string[] {
  return [
    '-D',
    '-',
    '-Ft',
    '-X',
    'none',
    '--checkpoint=fast',
    '-v',
    '--no-password',
    '-l',
    options.label,
    ...(options.incrementalFrom ? [`--incremental=${options.incrementalFrom}`] : []),
  ];
}

/** Throws unless pg_basebackup finished and the tar held a manifest and the WAL positions. */
function checkBaseBackupComplete(
  database: string,
  finished: {
    code: number | null;
    stderr: string;
    watcher: TarEntryWatcher;
    positions: ReturnType<typeof parseBackupPositions>;
  },
): void {
  const { code, stderr, watcher, positions } = finished;
  if (code !== 0 || !/base backup completed/.test(stderr)) throw explainFailure(database, stderr, code);
  if (!watcher.captured.has('backup_manifest'))
    throw new HindsightError(
      'tool_failed',
      `database "${database}": pg_basebackup wrote no backup_manifest into the tar (PostgreSQL 13 or newer is needed)`,
    );
  if (!positions)
    throw new HindsightError(
      'tool_failed',
      `database "${database}": the base backup's backup_label or backup_manifest has no WAL positions`,
    );
}

/** The error a failed stream stands for: cancellation, pg_basebackup's own words, or the storage's. */
function streamFailure(options: StreamBaseBackupOptions, error: unknown, code: number | null, stderr: string): unknown {
  if (options.signal?.aborted)
    return new HindsightError('tool_failed', `base backup of "${options.database}" was cancelled`);
  if (error instanceof HindsightError && error.message.includes('pg_basebackup')) return error;
  if (code !== 0 && stderr) return explainFailure(options.database, stderr, code);
  return error;
}
