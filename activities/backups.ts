import { namedKmsKey } from '../lib/crypto/wrap/kms/named.ts';
import { Context } from '@temporalio/activity';
import type { Keyring } from '../lib/crypto/keyring.ts';
import { copyBackup } from '../lib/backup/copy.ts';
import type { CopyOutcome } from '../lib/backup/dump.ts';
import type { BackupManifest } from '../lib/backup/manifest.ts';
import { errorMessage } from '../lib/errors.ts';
import { connect, serverInfo } from '../lib/pg/connection.ts';
import { bindActivities } from './bind.ts';
import { createOutbox, notifyBackupOutcome, type NotificationDeps } from './notifications.ts';
import { heartbeatWhile, progressReporter } from './progress.ts';
import { openRecordedBackup, readableCopies, withDrivers } from './storage-access.ts';
import { requireCredentials } from '../lib/catalog/rebuild/credentials.ts';
import { inlineDumpRunner, type DumpRunner } from '../lib/dataplane/index.ts';
import type { ChecksumPolicy } from '../lib/pg/table-checksums.ts';

export interface BackupDeps extends NotificationDeps {
  /** The current key encrypts; any key of the ring decrypts what it wrote (chosen by key id). */
  keyring: Keyring;
  /** Where dumps run: the worker's data plane (lib/dataplane); inline on this thread when not given. */
  dumps?: DumpRunner;
  /** Which tables a backup hashes whole or samples (HINDSIGHT_CHECKSUM_*); the default policy when not given. */
  checksums?: ChecksumPolicy;
}

/** Connects to the source and reports its version; fails fast with a named cause. */
async function probeDatabase(
  deps: BackupDeps,
  input: { database: string },
): Promise<{ serverVersion: string; sizeBytes: number }> {
  const target = await deps.catalog.databaseTarget(input.database);
  requireCredentials(input.database, target);
  const client = await connect(input.database, target);
  try {
    const info = await serverInfo(client);
    return { serverVersion: info.version, sizeBytes: info.sizeBytes };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function recordBackupStarted(
  deps: BackupDeps,
  input: { database: string; backupId: string; workflowId: string; trigger: string },
): Promise<{ storageNames: string[] }> {
  return deps.catalog.beginBackup({
    id: input.backupId,
    databaseName: input.database,
    workflowId: input.workflowId,
    trigger: input.trigger,
  });
}

async function recordBackupEnded(
  deps: BackupDeps,
  input: { backupId: string; status: 'failed' | 'cancelled'; error: string },
): Promise<void> {
  await deps.catalog.endBackup(input.backupId, input.status, input.error);
  // A cancelled backup was asked for; only a failure is news.
  if (input.status === 'failed')
    await notifyBackupOutcome(deps.catalog, createOutbox(deps), deps.logger, input.backupId);
}

/** The catalog's record of a dump, from its manifest. */
function completedBackupRecord(manifest: BackupManifest) {
  return {
    objectKey: manifest.object.key,
    sizeBytes: manifest.object.sizeBytes,
    dumpBytes: manifest.dump.sizeBytes,
    sha256: manifest.dump.sha256,
    objectSha256: manifest.object.sha256,
    compression: `${manifest.tool.compression.algorithm}:${manifest.tool.compression.level}`,
    serverVersion: manifest.source.serverVersion,
    toolVersion: manifest.tool.version,
    rowCounts: manifest.tables,
  };
}

/** The long one: pg_dump → hash → encrypt → every storage, heartbeating bytes; cancellable. */
async function dumpDatabaseToStorage(deps: BackupDeps, input: { database: string; backupId: string }) {
  const { catalog, keyring, logger } = deps;
  const ctx = Context.current();
  const db = await catalog.getDatabase(input.database);
  const target = await catalog.databaseTarget(input.database);
  const report = progressReporter();
  const where = { database: input.database, backupId: input.backupId };
  const runner = deps.dumps ?? inlineDumpRunner();
  const destinations = [];
  for (const name of db.storageNames) destinations.push({ name, config: await catalog.storageConfig(name) });
  const key = keyring.current();
  logger.info(
    { ...where, storages: db.storageNames, attempt: ctx.info.attempt, dataPlane: runner.mode, jobs: db.parallelJobs },
    'backup started',
  );
  // The job carries its own copy of the key: the runner wipes it once it is in the plane.
  const { manifest, copies } = await runner.run(
    {
      databaseName: input.database,
      backupId: input.backupId,
      target,
      destinations,
      parallelJobs: db.parallelJobs,
      key: { id: key.id, bytes: new Uint8Array(key.bytes) },
      ...(db.encryption.recipient ? { recipient: db.encryption.recipient } : {}),
      ...(db.encryption.kms ? { kms: (await namedKmsKey(db.encryption.kms)).config } : {}),
      ...(deps.checksums ? { checksums: deps.checksums } : {}),
    },
    { signal: ctx.cancellationSignal, onProgress: (p) => report(p) },
  );
  for (const copy of copies) {
    await catalog.recordCopy(input.backupId, copy.storageName, copy);
    if (copy.status === 'failed')
      logger.warn({ ...where, storage: copy.storageName, error: copy.error }, 'backup copy failed');
  }
  const status = await catalog.completeBackup(input.backupId, completedBackupRecord(manifest));
  const rows = manifest.tables.reduce((sum, t) => sum + t.rows, 0);
  logger.info(
    { ...where, status, bytes: manifest.object.sizeBytes, tables: manifest.tables.length, rows },
    'backup dumped',
  );
  return {
    status,
    copies: copies satisfies CopyOutcome[],
    sizeBytes: manifest.object.sizeBytes,
    dumpBytes: manifest.dump.sizeBytes,
    sha256: manifest.dump.sha256,
    tables: manifest.tables.length,
    rows,
  };
}

/** The copies of a backup and where each stands. */
async function listCopies(deps: BackupDeps, input: { backupId: string }): Promise<CopyOutcome[]> {
  return (await deps.catalog.copiesOf(input.backupId)).map((c) => ({
    storageName: c.storageName,
    status: c.status === 'complete' ? ('complete' as const) : ('failed' as const),
    ...(c.sizeBytes !== null ? { sizeBytes: c.sizeBytes } : {}),
    ...(c.error !== null ? { error: c.error } : {}),
  }));
}

/**
 * Brings one storage's copy of a backup up to date from a storage that holds it whole, without
 * dumping again. Each attempt's outcome is recorded so that the console shows why a copy lags.
 */
async function copyBackupToStorage(
  deps: BackupDeps,
  input: { database: string; backupId: string; storageName: string },
): Promise<CopyOutcome> {
  const { catalog, logger } = deps;
  const ctx = Context.current();
  const sources = (await readableCopies(catalog, input.backupId, ctx.info.attempt)).filter(
    (name) => name !== input.storageName,
  );
  try {
    const { sizeBytes } = await heartbeatWhile(5000, () =>
      withDrivers(catalog, [input.storageName, ...sources], async ([target, ...from]) => {
        const opened = await openRecordedBackup(from, input.database, await catalog.getBackup(input.backupId), logger);
        logger.info(
          { backupId: input.backupId, from: opened.storageName, to: input.storageName },
          'copying backup between storages',
        );
        return copyBackup(opened, target!.driver, ctx.cancellationSignal);
      }),
    );
    await catalog.recordCopy(input.backupId, input.storageName, { status: 'complete', sizeBytes });
    return { storageName: input.storageName, status: 'complete', sizeBytes };
  } catch (error) {
    await catalog.recordCopy(input.backupId, input.storageName, { status: 'failed', error: errorMessage(error) });
    throw error;
  }
}

/** complete when every copy is, partial when some are. */
async function settleBackup(deps: BackupDeps, input: { backupId: string }): Promise<{ status: string }> {
  const status = await deps.catalog.settleBackupStatus(input.backupId);
  await notifyBackupOutcome(deps.catalog, createOutbox(deps), deps.logger, input.backupId);
  return { status };
}

/** Logical backups: the source check, the dump to every storage, copies between storages, the record. */
export const createBackupActivities = (deps: BackupDeps) =>
  bindActivities(deps, {
    probeDatabase,
    recordBackupStarted,
    recordBackupEnded,
    dumpDatabaseToStorage,
    listCopies,
    copyBackupToStorage,
    settleBackup,
  });
