import { encryptionKeyFor, liveEncryptionKey } from '../lib/crypto/wrap/database-key.ts';
import os from 'node:os';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { Catalog } from '../lib/catalog/catalog.ts';
import type { Keyring } from '../lib/crypto/keyring.ts';
import { HindsightError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { StorageDriver } from '../lib/storage/contract.ts';
import { takeChainedBaseBackup } from '../lib/wal/chained-base-backup.ts';
import { formatLsn } from '../lib/wal/lsn.ts';
import { runWalReceiver, type ReceiverStatus } from '../lib/wal/receiver.ts';
import { checkStreamingPrerequisites, dropSlot, slotNameFor, withServer } from '../lib/wal/server.ts';
import { agentTaskQueue } from '../temporal/contracts/common.ts';
import { bindActivities } from './bind.ts';
import { progressReporter } from './progress.ts';
import { driverFor } from './storage-access.ts';

export interface WalActivityDeps {
  catalog: Catalog;
  /** The current key encrypts; any key of the ring decrypts what it wrote (chosen by key id). */
  keyring: Keyring;
  logger: Logger;
  /** The WAL spool lives beside the sandbox root on this host: `<parent>/hindsight-wal-spool/<db>`. */
  budget?: { sandboxRoot: string };
  /** HINDSIGHT_WAL_SPOOL_DIR: the spool's own place, e.g. a persistent volume. */
  walSpoolDir?: string | undefined;
}

/**
 * Beside the sandbox root, not inside it: the spool is private to this worker's user, while the
 * sandbox root must belong to the user sandbox servers run as, and it is created by whoever comes first.
 */
function spoolRoot(deps: WalActivityDeps): string {
  const sandboxRoot = deps.budget?.sandboxRoot ?? path.join(os.tmpdir(), 'hindsight-sandboxes');
  return deps.walSpoolDir ?? path.join(path.dirname(sandboxRoot), 'hindsight-wal-spool');
}

async function pitrStorage(catalog: Catalog, database: string): Promise<{ name: string; driver: StorageDriver }> {
  const config = await catalog.wal.config(database);
  if (!config.storageName) {
    throw new HindsightError(
      'bad_input',
      `database "${database}" has no storage to archive WAL to (add one with hindsight db add … --storage)`,
    );
  }
  return { name: config.storageName, driver: await driverFor(catalog, config.storageName) };
}

const notifier =
  (deps: WalActivityDeps, database: string) => async (input: { event: string; message: string; dedupeKey: string }) => {
    const queued = await deps.catalog.health.notify({ database, ...input });
    if (queued) deps.logger.warn({ database, event: input.event }, input.message);
  };

type PitrSettings = {
  registered: boolean;
  enabled: boolean;
  agent: string | null;
  hostTaskQueue: string | null;
  slot: string | null;
};

/** What the archiver and base backup workflows need before they start: is PITR on, and on which queue the host work runs. */
async function pitrSettings(deps: WalActivityDeps, input: { database: string }): Promise<PitrSettings> {
  const db = await deps.catalog.findDatabase(input.database);
  if (!db) return { registered: false, enabled: false, agent: null, hostTaskQueue: null, slot: null };
  const config = await deps.catalog.wal.config(input.database);
  return {
    registered: true,
    enabled: config.enabled,
    agent: config.agent,
    hostTaskQueue: config.agent ? agentTaskQueue(config.agent) : null,
    slot: config.slot,
  };
}

/**
 * Streams WAL into the archive for `runForMs` (then returns so that the workflow continues as
 * new), until cancelled, or until it dropped the slot over its limit (`slotDropped` in the result:
 * the workflow then starts a base backup). Heartbeats the receiver's status; a conflict (a second server
 * writing this archive) is notified and fails the run.
 */
async function archiveWal(
  deps: WalActivityDeps,
  input: { database: string; runForMs: number },
): Promise<ReceiverStatus> {
  const { catalog, keyring, logger } = deps;
  const ctx = Context.current();
  const config = await catalog.wal.config(input.database);
  if (!config.enabled)
    throw new HindsightError(
      'bad_input',
      `database "${input.database}" does not have PITR enabled (hindsight db pitr ${input.database} on)`,
    );
  const slot = config.slot ?? slotNameFor(input.database);
  const target = await catalog.databaseTarget(input.database);
  const storage = await pitrStorage(catalog, input.database);
  const notify = notifier(deps, input.database);
  try {
    const result = await runWalReceiver({
      database: input.database,
      target,
      slot,
      spoolDir: path.join(spoolRoot(deps), input.database),
      storageName: storage.name,
      driver: storage.driver,
      // Asked before each object: a key rotation or an encryption change applies from the next segment.
      key: liveEncryptionKey(
        () => catalog.getDatabase(input.database),
        () => keyring.current(),
      ),
      catalog: catalog.wal,
      notify,
      logger,
      partialIntervalMs: config.partialIntervalMs,
      slotMaxBytes: config.slotMaxBytes,
      slotOverLimit: config.slotOverLimit,
      synchronous: config.synchronous,
      signal: ctx.cancellationSignal,
      runForMs: input.runForMs,
      onStatus: progressReporter(5000),
      settings: async () => {
        const now = await catalog.wal.config(input.database);
        return {
          slotMaxBytes: now.slotMaxBytes,
          partialIntervalMs: now.partialIntervalMs,
          slotOverLimit: now.slotOverLimit,
          synchronous: now.synchronous,
        };
      },
    });
    if (ctx.cancellationSignal.aborted) throw new CancelledFailure('WAL archiving stopped by request');
    return result;
  } catch (error) {
    if (error instanceof HindsightError && error.kind === 'conflict') {
      await notify({
        event: 'wal_chain_broken',
        message: error.message,
        dedupeKey: `wal_conflict:${input.database}:${error.message}`,
      });
    }
    throw error;
  } finally {
    await storage.driver.close?.().catch(() => undefined);
  }
}

/** Drops the database's replication slot so that the server stops keeping WAL for us. */
async function dropWalSlot(deps: WalActivityDeps, input: { database: string }): Promise<{ dropped: boolean }> {
  const config = await deps.catalog.wal.config(input.database);
  const slot = config.slot ?? slotNameFor(input.database);
  const dropped = await withServer(input.database, await deps.catalog.databaseTarget(input.database), (client) =>
    dropSlot(client, slot),
  );
  return { dropped };
}

type ChainedBaseBackup = Awaited<ReturnType<typeof takeChainedBaseBackup>>;

/** What takeBaseBackup returns to its workflow. */
function baseBackupOutcome(
  baseBackupId: string,
  storageName: string,
  source: 'standby' | 'primary',
  result: ChainedBaseBackup,
) {
  return {
    baseBackupId,
    objectKey: result.objectKey,
    storageName,
    source,
    startLsn: formatLsn(result.startLsn),
    stopLsn: formatLsn(result.stopLsn),
    timeline: result.timeline,
    startTime: result.startTime.toISOString(),
    stopTime: result.stopTime.toISOString(),
    rawBytes: result.sizeBytes,
    storedBytes: result.storedBytes,
    sha256: result.sha256,
    kind: result.kind,
    parentId: result.parentId,
    kindReason: result.kindReason,
  };
}

/**
 * pg_basebackup → zstd → encrypt → storage, from the standby when one is configured; an
 * increment over the newest base backup when the chain allows it (chained-base-backup.ts). The
 * server's system identifier must be the archive's: a base backup of another cluster would
 * sit beside WAL it cannot use.
 */
async function takeBaseBackup(
  deps: WalActivityDeps,
  input: { database: string; baseBackupId: string; workflowId: string },
) {
  const { catalog, keyring, logger } = deps;
  const ctx = Context.current();
  const standby = await catalog.wal.baseBackupTarget(input.database);
  const target = standby ?? (await catalog.databaseTarget(input.database));
  const identity = await withServer(input.database, target, (client) =>
    checkStreamingPrerequisites(input.database, client),
  );
  await catalog.wal.recordServerIdentity(input.database, identity.systemIdentifier, identity.walSegmentSize);
  const storage = await pitrStorage(catalog, input.database);
  const config = await catalog.wal.config(input.database);
  const report = progressReporter(2000);
  const source = standby ? ('standby' as const) : ('primary' as const);
  try {
    const result = await takeChainedBaseBackup({
      database: input.database,
      baseBackupId: input.baseBackupId,
      workflowId: input.workflowId,
      wal: catalog.wal,
      driver: storage.driver,
      storageName: storage.name,
      target,
      source,
      server: identity,
      fullEvery: config.baseBackupFullEvery,
      // Public-key mode: the parent's backup_manifest cannot be read here, so every base backup is a full one.
      key: await encryptionKeyFor(await catalog.getDatabase(input.database), keyring.current()),
      resolve: keyring.resolve,
      signal: ctx.cancellationSignal,
      onProgress: (p) => report({ rawBytes: p.rawBytes, storedBytes: 0 }),
    });
    await catalog.wal.completeBaseBackup(input.baseBackupId, {
      systemIdentifier: identity.systemIdentifier,
      timeline: result.timeline,
      startLsn: result.startLsn,
      stopLsn: result.stopLsn,
      startTime: result.startTime,
      stopTime: result.stopTime,
      sizeBytes: result.sizeBytes,
      storedBytes: result.storedBytes,
      sha256: result.sha256,
    });
    logger.info(
      {
        database: input.database,
        baseBackupId: input.baseBackupId,
        kind: result.kind,
        parent: result.parentId,
        why: result.kindReason,
        start: formatLsn(result.startLsn),
        stop: formatLsn(result.stopLsn),
        bytes: result.sizeBytes,
      },
      'base backup complete',
    );
    return baseBackupOutcome(input.baseBackupId, storage.name, source, result);
  } finally {
    await storage.driver.close?.().catch(() => undefined);
  }
}

async function recordBaseBackupFailed(
  deps: WalActivityDeps,
  input: { baseBackupId: string; error: string },
): Promise<void> {
  return deps.catalog.wal.failBaseBackup(input.baseBackupId, input.error);
}

/** The PITR archive: WAL streaming, base backups, and the settings they run by. */
export const createWalActivities = (deps: WalActivityDeps) =>
  bindActivities(deps, {
    pitrSettings,
    archiveWal,
    dropWalSlot,
    takeBaseBackup,
    recordBaseBackupFailed,
  });
