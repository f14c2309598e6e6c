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
import { compressedWhere, type BackupManifest } from './manifest.ts';
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
 * leaves the target empty (unless `partial`). Reports what happened instead of throwing, so that
 * callers can keep the exit code and the tool's own words.
 */
export async function runPgRestore(
  options: Omit<RestoreOptions, 'manifest' | 'owners'> & {
    /** Keep the archive's owners and grants (the roles must exist); otherwise --no-owner --no-privileges. */
    keepOwners?: boolean;
    serverMajor: number;
    archiveMajor?: number | undefined;
    partial?: PartialLoad;
    /** The manifest's `tool.compression.where`; without it, the decrypted bytes' first bytes tell. */
    compression?: CompressionWhere | undefined;
  },
): Promise<PgRestoreRun> {
  const { object: source, key, target, partial } = options;
  const pgRestore = await toolFor('pg_restore', options.serverMajor, { archiveMajor: options.archiveMajor });
  // --verbose names the entry ("from TOC entry N") before each error.
  const mode = partial ? ['--use-list', partial.listFile, '--verbose'] : ['--exit-on-error', '--single-transaction'];
  const child = spawn(
    pgRestore.path,
    [
      '--dbname',
      target.database,
      ...(options.keepOwners ? [] : ['--no-owner', '--no-privileges']),
      ...mode,
      '--no-password',
    ],
    {
      env: libpqChildEnv(target),
      stdio: ['pipe', 'ignore', 'pipe'],
    },
  );
  const stderr = stderrTail(child, partial?.stderrLimit);
  const exited = waitForExit(child);
  const objectMeter = new ByteMeter();
  const dumpMeter = new ByteMeter();
  const timer = setInterval(
    () => options.onProgress?.({ readBytes: objectMeter.bytes, restoredBytes: dumpMeter.bytes }),
    1000,
  );
  const abort = () => child.kill('SIGTERM');
  options.signal?.addEventListener('abort', abort, { once: true });
  let streamError: Error | undefined;
  const gate = new ChecksumGate(() =>
    streamedChecksumFailure(options.expect, { objectSha256: objectMeter.sha256, dumpSha256: dumpMeter.sha256 }),
  );
  try {
    await pipeline(
      source,
      objectMeter,
      new DecryptStream(key, decryptOptionsFor(options.expect)),
      dumpMeter,
      gate,
      new ArchiveDecoder({ expected: options.compression, what: `object ${options.expect.objectKey}` }),
      child.stdin as Writable,
      options.signal ? { signal: options.signal } : {},
    );
  } catch (error) {
    streamError = error as Error;
    child.kill('SIGTERM');
  } finally {
    clearInterval(timer);
    options.signal?.removeEventListener('abort', abort);
  }
  const { code, signal } = await exited.catch(() => ({ code: null, signal: null }));
  return {
    exitCode: code,
    signal,
    stderrTail: stderr(),
    readBytes: objectMeter.bytes,
    restoredBytes: dumpMeter.bytes,
    objectSha256: streamError ? '' : objectMeter.sha256,
    dumpSha256: streamError ? '' : dumpMeter.sha256,
    streamError,
  };
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
    return new HindsightError(
      'tool_failed',
      `pg_restore into ${describeTarget(target)} failed (${run.signal ? `signal ${run.signal}` : `exit ${run.exitCode}`}): ${run.stderrTail.split('\n').slice(-3).join(' | ')}`,
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
