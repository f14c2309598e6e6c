import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DecryptStream, type DecryptionKey } from '../crypto/chunked-gcm.ts';
import { HindsightError, errorMessage } from '../errors.ts';
import { connect, describeTarget, libpqChildEnv, quoteIdent, serverInfo, type PgTarget } from '../pg/connection.ts';
import {
  compareRowCounts,
  countRows,
  listTables,
  type RowCountMismatch,
  type TableRowCount,
} from '../pg/row-counts.ts';
import { archiveMajorOf, toolFor } from '../pg/tools.ts';
import { ByteMeter } from './byte-meter.ts';
import { stderrTail, waitForExit } from './child-process.ts';
import { ChecksumGate } from './checksum-gate.ts';
import { ArchiveDecoder } from './compress-decoder.ts';
import type { CompressionWhere } from './compress.ts';
import { decryptOptionsFor, streamedChecksumFailure, type BackupExpectation } from './expectation.ts';
import { compressedWhere, isDirectoryArchive, restoreJobs, type BackupManifest } from './manifest.ts';
import { directoryRestoreArgs, extractDirectoryArchive, type ExtractedArchive } from './dir-restore.ts';
import { createMissingRoles, WITHOUT_OWNERS, type OwnershipReport, type OwnersOption } from './roles-restore.ts';

/**
 * Makes sure the target database exists and is empty. A restore never writes into a database
 * that already holds tables: that is how data gets lost.
 */
export async function prepareRestoreTarget(label: string, target: PgTarget): Promise<{ created: boolean }> {
  let client;
  try {
    client = await connect(label, target);
  } catch (error) {
    if (!(error instanceof HindsightError) || error.kind !== 'not_found') throw error;
    const admin = await connect(label, { ...target, database: 'postgres' });
    try {
      await admin.query(`create database ${quoteIdent(target.database)} template template0 encoding 'UTF8'`);
    } catch (createError) {
      throw new HindsightError(
        'access_denied',
        `restore target ${describeTarget(target)}: cannot create the database: ${errorMessage(createError)} (create it yourself or grant CREATEDB)`,
      );
    } finally {
      await admin.end().catch(() => undefined);
    }
    return { created: true };
  }
  try {
    const tables = await listTables(client);
    if (tables.length > 0) {
      throw new HindsightError(
        'conflict',
        `restore target ${describeTarget(target)} already holds ${tables.length} table(s): restore into a new or empty database`,
      );
    }
    return { created: false };
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface RestoreOptions {
  label: string;
  manifest: BackupManifest;
  /** The encrypted object, opened from whichever storage had it (openBackupFromAny). */
  object: Readable;
  /** What the object must be (OpenedBackup.expect): refused at its header, or before its last bytes reach pg_restore. */
  expect: BackupExpectation;
  key: DecryptionKey;
  target: PgTarget;
  signal?: AbortSignal;
  onProgress?: (bytes: { readBytes: number; restoredBytes: number }) => void;
  /** Restore owners and grants, after creating the roles the target lacks; without it, --no-owner --no-privileges. */
  owners?: OwnersOption | undefined;
}

export interface RestoreResult {
  ownership: OwnershipReport;
  readBytes: number;
  restoredBytes: number;
  tables: TableRowCount[];
  mismatches: RowCountMismatch[];
  rowsChecked: number;
}

/** What pg_restore did with the stream, whether or not it succeeded. */
export interface PgRestoreRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
  readBytes: number;
  restoredBytes: number;
  objectSha256: string;
  dumpSha256: string;
  /** Set when the stream itself failed (storage, decryption): pg_restore saw a cut-off archive. */
  streamError: Error | undefined;
}

/**
 * A load that goes on past errors, for a sandbox: only the entries of `listFile` (pg_restore -L),
 * each in its own transaction, so that what a role without privileges cannot create is refused
 * one entry at a time and the caller sorts the errors from the (longer) stderr.
 */
export interface PartialLoad {
  listFile: string;
  stderrLimit: number;
}

/**
 * storage → SHA-256 of the object → decrypt (authenticates every chunk; an object that is another
 * backup is refused at its header) → SHA-256 of the dump → a gate that keeps the last chunk back
 * until both checksums match the expectation → zstd -d for a dump compressed outside pg_dump
 * (lib/backup/compress-decoder.ts) → pg_restore, in one transaction so that a failure
 * leaves the target empty (unless `partial`). A parallel dump's tar (`directory`) is unpacked
 * whole first (dir-restore.ts), then read by pg_restore with its jobs. Reports what happened
 * instead of throwing, so that callers can keep the exit code and the tool's own words.
 */
export async function runPgRestore(options: PgRestoreOptions): Promise<PgRestoreRun> {
  const pgRestore = await toolFor('pg_restore', options.serverMajor, { archiveMajor: options.archiveMajor });
  const objectMeter = new ByteMeter();
  const dumpMeter = new ByteMeter();
  const timer = setInterval(
    () => options.onProgress?.({ readBytes: objectMeter.bytes, restoredBytes: dumpMeter.bytes }),
    1000,
  );
  try {
    if (!options.directory) return await restoreFromStream(pgRestore.path, options, objectMeter, dumpMeter);
    // An archive the caller unpacked already (and owns) is read as it is.
    const given = options.directory.extracted;
    const extracted =
      given ??
      (await extractDirectoryArchive({
        ...options,
        compression: options.compression ?? 'inside',
        objectMeter,
        dumpMeter,
      }));
    try {
      const meters = [extracted.objectMeter, extracted.dumpMeter] as const;
      if (extracted.streamError) return streamFailed(extracted.streamError, ...meters);
      // A cancel that came while the last bytes were unpacked: pg_restore must not start after it.
      if (options.signal?.aborted) return streamFailed(new Error('cancelled before pg_restore started'), ...meters);
      const input = directoryRestoreArgs(extracted.dir, options.directory.jobs);
      const run = spawnPgRestore(pgRestore.path, options, input);
      const { code, signal } = await run.exited.catch(() => ({ code: null, signal: null }));
      return { ...finishedRun(code, signal, run.stderr(), ...meters), streamError: undefined };
    } finally {
      if (!given) await extracted.cleanup();
    }
  } finally {
    clearInterval(timer);
  }
}

export type PgRestoreOptions = Omit<RestoreOptions, 'manifest' | 'owners'> & {
  /** Keep the archive's owners and grants (the roles must exist); otherwise --no-owner --no-privileges. */
  keepOwners?: boolean;
  serverMajor: number;
  archiveMajor?: number | undefined;
  partial?: PartialLoad;
  /** The manifest's `tool.compression.where`; without it, the decrypted bytes' first bytes tell. */
  compression?: CompressionWhere | undefined;
  /** A tar of a directory archive (manifest `tool.format` directory): unpacked, then read by `jobs` jobs. */
  directory?: { jobs: number; extracted?: ExtractedArchive | undefined } | undefined;
};

/**
 * pg_restore with its mode: a partial load (-L, going on past errors) or one transaction that a
 * failure leaves empty. Several jobs cannot share a transaction: a parallel restore stops at its
 * first error instead, and the caller says what the target then holds.
 */
function spawnPgRestore(pgRestorePath: string, options: PgRestoreOptions, input: string[]) {
  const { target, partial } = options;
  const jobs = options.directory?.jobs ?? 1;
  // --verbose names the entry ("from TOC entry N") before each error.
  const mode = partial
    ? ['--use-list', partial.listFile, '--verbose']
    : ['--exit-on-error', ...(jobs > 1 ? [] : ['--single-transaction'])];
  const child = spawn(
    pgRestorePath,
    [
      '--dbname',
      target.database,
      ...(options.keepOwners ? [] : ['--no-owner', '--no-privileges']),
      ...mode,
      '--no-password',
      ...input,
    ],
    { env: libpqChildEnv(target), stdio: [input.length > 0 ? 'ignore' : 'pipe', 'ignore', 'pipe'] },
  );
  const stderr = stderrTail(child, partial?.stderrLimit);
  const exited = waitForExit(child);
  const abort = () => child.kill('SIGTERM');
  options.signal?.addEventListener('abort', abort, { once: true });
  void exited.finally(() => options.signal?.removeEventListener('abort', abort)).catch(() => undefined);
  return { child, stderr, exited };
}

function finishedRun(
  code: number | null,
  signal: NodeJS.Signals | null,
  stderrTail: string,
  objectMeter: ByteMeter,
  dumpMeter: ByteMeter,
): Omit<PgRestoreRun, 'streamError'> {
  return {
    exitCode: code,
    signal,
    stderrTail,
    readBytes: objectMeter.bytes,
    restoredBytes: dumpMeter.bytes,
    objectSha256: objectMeter.sha256,
    dumpSha256: dumpMeter.sha256,
  };
}

/** A stream that failed before pg_restore could read a directory archive. */
function streamFailed(error: Error, objectMeter: ByteMeter, dumpMeter: ByteMeter): PgRestoreRun {
  return {
    ...finishedRun(null, null, '', objectMeter, dumpMeter),
    objectSha256: '',
    dumpSha256: '',
    streamError: error,
  };
}

/** The custom-format archive streamed into pg_restore's standard input. */
async function restoreFromStream(
  pgRestorePath: string,
  options: PgRestoreOptions,
  objectMeter: ByteMeter,
  dumpMeter: ByteMeter,
): Promise<PgRestoreRun> {
  const { child, stderr, exited } = spawnPgRestore(pgRestorePath, options, []);
  let streamError: Error | undefined;
  const gate = new ChecksumGate(() =>
    streamedChecksumFailure(options.expect, { objectSha256: objectMeter.sha256, dumpSha256: dumpMeter.sha256 }),
  );
  try {
    await pipeline(
      options.object,
      objectMeter,
      new DecryptStream(options.key, decryptOptionsFor(options.expect)),
      dumpMeter,
      gate,
      new ArchiveDecoder({ expected: options.compression, what: `object ${options.expect.objectKey}` }),
      child.stdin as Writable,
      options.signal ? { signal: options.signal } : {},
    );
  } catch (error) {
    streamError = error as Error;
    child.kill('SIGTERM');
  }
  const { code, signal } = await exited.catch(() => ({ code: null, signal: null }));
  const run = finishedRun(code, signal, stderr(), objectMeter, dumpMeter);
  return streamError ? { ...run, objectSha256: '', dumpSha256: '', streamError } : { ...run, streamError };
}

/** The first thing wrong with a pg_restore run, as the error a person should read. */
export function restoreFailure(
  run: PgRestoreRun,
  manifest: BackupManifest,
  target: PgTarget,
  aborted: boolean,
): HindsightError | undefined {
  if (run.streamError) {
    if (run.streamError instanceof HindsightError) return run.streamError;
    if (aborted) return new HindsightError('tool_failed', `restore into ${describeTarget(target)} was cancelled`);
    return new HindsightError(
      'tool_failed',
      `pg_restore into ${describeTarget(target)} failed${run.exitCode !== null ? ` (exit ${run.exitCode})` : ''}: ${errorMessage(run.streamError)}${run.stderrTail ? `; pg_restore said: ${run.stderrTail.split('\n').slice(-3).join(' | ')}` : ''}`,
    );
  }
  if (run.exitCode !== 0) {
    // Jobs cannot share one transaction: what loaded before the error stays in the target.
    const partial =
      restoreJobs(manifest) > 1
        ? ' (a parallel restore does not run in one transaction: the target keeps what loaded before the error; empty it before another attempt)'
        : '';
    return new HindsightError(
      'tool_failed',
      `pg_restore into ${describeTarget(target)} failed (${run.signal ? `signal ${run.signal}` : `exit ${run.exitCode}`}): ${run.stderrTail.split('\n').slice(-3).join(' | ')}${partial}`,
    );
  }
  if (run.objectSha256 !== manifest.object.sha256) {
    return new HindsightError(
      'integrity',
      `backup ${manifest.backupId}: object SHA-256 ${run.objectSha256} differs from the manifest's ${manifest.object.sha256}`,
    );
  }
  if (run.dumpSha256 !== manifest.dump.sha256) {
    return new HindsightError(
      'integrity',
      `backup ${manifest.backupId}: decrypted dump SHA-256 ${run.dumpSha256} differs from the manifest's ${manifest.dump.sha256}`,
    );
  }
  return undefined;
}

/**
 * Restores a backup into an empty database (runPgRestore), then compares every table's row count
 * with the counts taken in the dump's own snapshot.
 */
export async function streamRestoreFromStorage(options: RestoreOptions): Promise<RestoreResult> {
  const { manifest, object: source, target, label } = options;
  let serverMajor: number;
  let ownership = WITHOUT_OWNERS;
  try {
    const probe = await connect(label, target);
    try {
      serverMajor = (await serverInfo(probe)).major;
      if (options.owners) ownership = await createMissingRoles(probe, target, options.owners);
    } finally {
      await probe.end().catch(() => undefined);
    }
  } catch (error) {
    source.destroy();
    throw error;
  }
  let run: PgRestoreRun;
  try {
    run = await runPgRestore({
      ...options,
      keepOwners: options.owners !== undefined,
      serverMajor,
      archiveMajor: archiveMajorOf(manifest.tool.version),
      compression: compressedWhere(manifest),
      directory: isDirectoryArchive(manifest) ? { jobs: restoreJobs(manifest) } : undefined,
    });
  } catch (error) {
    source.destroy();
    throw error;
  }
  const failure = restoreFailure(run, manifest, target, options.signal?.aborted ?? false);
  if (failure) throw failure;
  const { readBytes, restoredBytes } = run;

  const client = await connect(label, target);
  try {
    const tables = await countRows(client);
    const mismatches = compareRowCounts(manifest.tables, tables);
    const rowsChecked = tables.reduce((sum, t) => sum + t.rows, 0);
    return { readBytes, restoredBytes, tables, mismatches, rowsChecked, ownership };
  } finally {
    await client.end().catch(() => undefined);
  }
}
