import type pg from 'pg';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EncryptStream, DEFAULT_CHUNK_SIZE, FORMAT_VERSION, type EncryptionKey } from '../crypto/chunked-gcm.ts';
import { logicalBackupIdentity } from '../crypto/object-identity.ts';
import { HindsightError, errorMessage } from '../errors.ts';
import { explainDumpFailure, explainQueryError } from './dump-errors.ts';
import { spawnDirectoryDump } from './dir-dump.ts';
import { connect, libpqChildEnv, serverInfo, type PgTarget } from '../pg/connection.ts';
import { countRows, type TableRowCount } from '../pg/row-counts.ts';
import { DEFAULT_CHECKSUM_POLICY, type ChecksumPolicy } from '../pg/table-checksums.ts';
import { toolFor } from '../pg/tools.ts';
import type { StorageDriver } from '../storage/contract.ts';
import { writeJsonObject } from '../storage/shared/json-object.ts';
import { readSystemIdentifier } from './adopt-match.ts';
import { ByteMeter } from './byte-meter.ts';
import { FanOut, failBranch, type Branch } from './fan-out.ts';
import {
  dumpCompressionPlan,
  manifestCompression,
  type CompressionChoice,
  type DumpCompressionPlan,
} from './compress.ts';
import { spawnDumpProcess } from './compress-process.ts';
import { backupObjectKey, manifestKey, rolesObjectKey } from './ids.ts';
import type { BackupManifest } from './manifest.ts';
import { readDatabaseRoles } from './roles.ts';
import { sealRoles, writeRolesObject, type SealedRoles } from './roles-object.ts';

export interface DumpProgress {
  dumpBytes: number;
  storedBytes: number;
}

export interface Destination {
  name: string;
  driver: StorageDriver;
}

export interface CopyOutcome {
  storageName: string;
  status: 'complete' | 'failed';
  sizeBytes?: number;
  error?: string;
}

export interface DumpResult {
  manifest: BackupManifest;
  copies: CopyOutcome[];
}

export interface DumpOptions {
  databaseName: string;
  backupId: string;
  target: PgTarget;
  destinations: Destination[];
  /** The secret key, or the wrapper of public-key mode (lib/crypto/wrap/): what the data keys are wrapped with. */
  key: EncryptionKey;
  signal?: AbortSignal;
  onProgress?: (progress: DumpProgress) => void;
  chunkSize?: number;
  /** Where the dump is compressed (lib/backup/compress.ts); `auto`, the default, is the measured choice. */
  compression?: CompressionChoice;
  /**
   * Which tables are hashed whole or sampled (lib/pg/table-checksums.ts); the default policy when not
   * given; null counts rows only, as backups did before checksums (the cost bench's baseline).
   */
  checksums?: ChecksumPolicy | null;
  /** pg_dump jobs: 1 (default) is the custom-format stream; more, a directory archive in a tar (dir-dump.ts). */
  parallelJobs?: number;
}

/** Writes the roles object and the manifest beside the object; the objects go if either cannot be written. */
async function finishCopy(
  branch: Branch,
  manifest: BackupManifest,
  sentBytes: number,
  roles: SealedRoles,
): Promise<CopyOutcome> {
  const { driver } = branch;
  const objectKey = manifest.object.key;
  let committed = false;
  try {
    const stored = await branch.write!.commit();
    branch.write = undefined;
    committed = true;
    // Never trust a write that reports success: the stored size must be what we sent.
    if (stored.size !== sentBytes) {
      throw new HindsightError(
        'integrity',
        `storage ${driver.label}: '${objectKey}' holds ${stored.size} bytes after upload, but ${sentBytes} were sent`,
      );
    }
    await writeRolesObject(driver, roles);
    await writeManifest(driver, manifest);
    return { storageName: branch.name, status: 'complete', sizeBytes: stored.size };
  } catch (error) {
    branch.write = undefined;
    // An object without its manifest (or with a wrong size) must not sit in storage looking like a backup.
    if (committed) {
      await driver.remove(objectKey).catch(() => undefined);
      await driver.remove(roles.key).catch(() => undefined);
    }
    return { storageName: branch.name, status: 'failed', error: errorMessage(error) };
  }
}

export async function writeManifest(driver: StorageDriver, manifest: BackupManifest): Promise<void> {
  await writeJsonObject(driver, manifestKey(manifest.database, manifest.backupId), manifest);
}

/**
 * Opens a write on every destination, after sweeping what an earlier attempt of this backup left;
 * a failure drops that branch, and a backup that reaches no storage fails here.
 */
async function openBranches(
  branches: Branch[],
  databaseName: string,
  backupId: string,
  objectKey: string,
): Promise<void> {
  await Promise.all(
    branches.map(async (branch) => {
      try {
        // Leftovers of an earlier attempt of this same backup (a killed worker) go first.
        await branch.driver.sweepAbandonedWrites(objectKey, 0);
        await branch.driver.sweepAbandonedWrites(manifestKey(databaseName, backupId), 0);
        await branch.driver.sweepAbandonedWrites(rolesObjectKey(databaseName, backupId), 0);
        branch.write = await branch.driver.openWrite(objectKey);
      } catch (error) {
        failBranch(branch, error);
      }
    }),
  );
  if (branches.every((b) => b.error)) {
    throw new HindsightError(
      branches[0]!.error!.kind,
      `backup ${backupId} can reach no storage: ${branches.map((b) => b.error!.message).join('; ')}`,
    );
  }
}

interface DumpRun {
  pgDumpPath: string;
  jobs: number;
  compression: DumpCompressionPlan;
  snapshot: string;
  client: pg.Client;
  branches: Branch[];
  fanOut: FanOut;
}

interface DumpStreams {
  rowCounts: TableRowCount[];
  dumpMeter: ByteMeter;
  objectMeter: ByteMeter;
  encrypt: EncryptStream;
}

/** Runs pg_dump in the exported snapshot into the fan-out while the row counts are taken in that snapshot. */
async function dumpIntoBranches(options: DumpOptions, run: DumpRun): Promise<DumpStreams> {
  const { databaseName, backupId, target, key } = options;
  const args = [run.compression.pgDumpFlag, `--snapshot=${run.snapshot}`, '--no-password'];
  // With jobs, pg_dump's workers import this same snapshot (--snapshot), so the row counts still match.
  const child =
    run.jobs > 1
      ? await spawnDirectoryDump(run.pgDumpPath, args, libpqChildEnv(target), run.compression, run.jobs, options.signal)
      : spawnDumpProcess(run.pgDumpPath, ['--format=custom', ...args], libpqChildEnv(target), run.compression);
  const { stderr, exited } = child;
  const abortChild = () => child.kill();
  options.signal?.addEventListener('abort', abortChild, { once: true });

  const dumpMeter = new ByteMeter();
  const objectMeter = new ByteMeter();
  // The header names the backup, so that a copy of this object under another backup's name is refused.
  const encrypt = new EncryptStream(key, {
    identity: logicalBackupIdentity(databaseName, backupId),
    chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
  });
  const progressTimer = setInterval(
    () => options.onProgress?.({ dumpBytes: dumpMeter.bytes, storedBytes: objectMeter.bytes }),
    1000,
  );

  let rowCounts: TableRowCount[];
  let countFailure: unknown;
  const checksums = options.checksums === null ? undefined : { policy: options.checksums ?? DEFAULT_CHECKSUM_POLICY };
  const counting = countRows(run.client, checksums).catch((error: unknown) => {
    countFailure = error;
    throw error;
  });
  try {
    const [counts] = await Promise.all([
      counting,
      pipeline(
        child.stdout as Readable,
        dumpMeter,
        encrypt,
        objectMeter,
        run.fanOut,
        options.signal ? { signal: options.signal } : {},
      ),
    ]);
    rowCounts = counts;
  } catch (error) {
    child.kill();
    const { code, signal } = await exited.catch(() => ({ code: null, signal: null }));
    await child.cleanup?.();
    if (options.signal?.aborted) throw new HindsightError('tool_failed', `backup of "${databaseName}" was cancelled`);
    // Our own count query failed first (a missing grant shows there as early as in pg_dump): pg_dump was
    // killed for it and says only "terminated by user", so the query's error is the cause.
    if (error === countFailure) throw explainQueryError(databaseName, error);
    // pg_dump complains about its closed output when the storages went away: the storages are the cause.
    if (run.branches.every((b) => b.error)) throw error;
    if (code !== 0 && stderr()) throw explainDumpFailure(databaseName, stderr(), code, signal);
    throw explainQueryError(databaseName, error);
  } finally {
    clearInterval(progressTimer);
    options.signal?.removeEventListener('abort', abortChild);
  }
  const { code, signal } = await exited;
  await child.cleanup?.();
  // A compressor that failed breaks pg_dump's pipe: its own failure is the cause to report.
  const compressorFailure = await child.compressor;
  if (compressorFailure) throw compressorFailure;
  if (code !== 0) throw explainDumpFailure(databaseName, stderr(), code, signal);
  if (dumpMeter.bytes === 0)
    throw new HindsightError('tool_failed', `database "${databaseName}": pg_dump produced no output`);
  return { rowCounts, dumpMeter, objectMeter, encrypt };
}

/** Commits every branch still standing, each with its manifest; fails only when no copy is complete. */
async function finishCopies(
  branches: Branch[],
  manifest: BackupManifest,
  sentBytes: number,
  roles: SealedRoles,
): Promise<CopyOutcome[]> {
  await Promise.all(branches.map((branch) => branch.discarded));
  const copies = await Promise.all(
    branches.map((branch) =>
      branch.error
        ? { storageName: branch.name, status: 'failed' as const, error: branch.error.message }
        : finishCopy(branch, manifest, sentBytes, roles),
    ),
  );
  if (copies.every((c) => c.status === 'failed')) {
    throw new HindsightError(
      branches.find((b) => b.error)?.error?.kind ?? 'unreachable',
      `backup ${manifest.backupId} reached no storage: ${copies.map((c) => c.error).join('; ')}`,
    );
  }
  return copies;
}

/** Aborts every open write and waits for branches still aborting, so nothing half-written outlives the attempt. */
async function abortBranches(branches: Branch[]): Promise<void> {
  for (const branch of branches) {
    const write = branch.write;
    branch.write = undefined;
    if (write) await write.abort().catch(() => undefined);
    // A branch failed by the stream's end (a cancel destroys every stream) is still aborting:
    // the outcome waits for it, so nothing half-written outlives the attempt that reports it.
    await branch.discarded;
  }
}

/**
 * pg_dump -Fc (→ zstd, lib/backup/compress.ts) → SHA-256 → AES-256-GCM chunks → every destination at once, with backpressure end to
 * end: memory stays at a few chunks per destination whatever the database size, nothing is written
 * to a temporary file, and pg_dump runs once however many storages there are. A destination that
 * fails is dropped and reported; the dump fails only when every destination has failed.
 *
 * Row counts are taken in the same snapshot that pg_dump dumps (pg_export_snapshot + --snapshot),
 * so a restore can be checked table by table against exactly what the dump holds.
 */
export async function streamDumpToStorage(options: DumpOptions): Promise<DumpResult> {
  const { databaseName, backupId, target, key } = options;
  const startedAt = new Date();
  const client = await connect(databaseName, target);
  const branches: Branch[] = options.destinations.map((d) => ({
    name: d.name,
    driver: d.driver,
    write: undefined,
    error: undefined,
  }));
  try {
    // The identifier is read before the snapshot's transaction: a refusal (no right to pg_control_system) must not abort it.
    const [server, systemIdentifier] = [await serverInfo(client), await readSystemIdentifier(client)];
    const pgDump = await toolFor('pg_dump', server.major);
    const jobs = options.parallelJobs ?? 1;
    // A directory dump makes the single stream's choice too (lib/backup/dir-dump.ts says why).
    const compression = dumpCompressionPlan(pgDump.major, options.compression);
    await client.query('begin isolation level repeatable read read only');
    const snapshot = (await client.query<{ id: string }>('select pg_export_snapshot() as id')).rows[0]!.id;
    // The roles its owners and grants name, so that a restore can recreate them (lib/backup/roles.ts).
    const roles = await sealRoles(await readDatabaseRoles(client), { database: databaseName, backupId }, key);

    const objectKey = backupObjectKey(databaseName, backupId);
    await openBranches(branches, databaseName, backupId, objectKey);
    const fanOut = new FanOut(branches);
    const run: DumpRun = {
      pgDumpPath: pgDump.path,
      jobs,
      compression,
      snapshot,
      client,
      branches,
      fanOut,
    };
    const { rowCounts, dumpMeter, objectMeter, encrypt } = await dumpIntoBranches(options, run);
    options.onProgress?.({ dumpBytes: dumpMeter.bytes, storedBytes: objectMeter.bytes });

    const manifest: BackupManifest = {
      format: 'hindsight-logical-backup',
      formatVersion: 1,
      backupId,
      database: databaseName,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      source: {
        host: target.host,
        port: target.port,
        database: target.database,
        serverVersion: server.version,
        sizeBytes: server.sizeBytes,
        ...(systemIdentifier === undefined ? {} : { systemIdentifier }),
      },
      tool: {
        name: 'pg_dump',
        version: pgDump.version,
        ...(jobs > 1 ? { format: 'directory' as const, jobs } : { format: 'custom' as const }),
        compression: manifestCompression(compression),
      },
      snapshot,
      dump: { sizeBytes: dumpMeter.bytes, sha256: dumpMeter.sha256 },
      object: { key: objectKey, sizeBytes: objectMeter.bytes, sha256: objectMeter.sha256 },
      roles: { key: roles.key, sizeBytes: roles.bytes.length, sha256: roles.sha256 },
      encryption: {
        format: 'HSBK',
        version: FORMAT_VERSION,
        algorithm: 'AES-256-GCM',
        kdf: 'HKDF-SHA256',
        keyId: encrypt.keyRef,
        chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE,
        header: encrypt.header.toString('base64'),
      },
      tables: rowCounts,
    };
    const copies = await finishCopies(branches, manifest, objectMeter.bytes, roles);
    // The snapshot only had to outlive pg_dump; ending the read-only transaction cannot lose data.
    await client.query('commit').catch(() => undefined);
    return { manifest, copies };
  } catch (error) {
    await abortBranches(branches);
    throw explainQueryError(databaseName, error);
  } finally {
    await client.end().catch(() => undefined);
  }
}
