import { randomBytes } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import { Context } from '@temporalio/activity';
import type { BackupManifest } from '../lib/backup/manifest.ts';
import { recordedChecksums } from '../lib/backup/expectation.ts';
import { openBackupFromAny } from '../lib/backup/sources.ts';
import type { Catalog } from '../lib/catalog/catalog.ts';
import type { Keyring } from '../lib/crypto/keyring.ts';
import { HindsightError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { SandboxDriver } from '../lib/sandbox/contract.ts';
import { createStorageDriver } from '../lib/storage/index.ts';
import type { VerificationReport } from '../lib/verify/report.ts';
import { verifyBackup } from '../lib/verify/verify-backup.ts';
import { newVerificationId, type VerifyRequest } from '../temporal/contracts/verify.ts';
import { translated } from './failures.ts';
import { createOutbox, notifyVerificationOutcome, type NotificationDeps } from './notifications.ts';

/** What one verification agent may use; concurrency follows from it (activity slots). */
export interface VerificationBudget {
  maxDiskBytes: number;
  /** Where sandboxes live: free space is measured there. */
  sandboxRoot: string;
}

export interface VerificationDeps extends NotificationDeps {
  catalog: Catalog;
  /** The current key encrypts; any key of the ring decrypts what it wrote (chosen by key id). */
  keyring: Keyring;
  logger: Logger;
  sandboxes?: SandboxDriver;
  budget?: VerificationBudget;
  /** Hands a request to the database's restoreVerifier (signal-with-start). */
  signalVerifier?: (database: string, request: VerifyRequest) => Promise<void>;
}

/** A restore needs room for the archive being read, the restored data and its indexes: twice the source, plus slack. */
export function diskEstimate(objectBytes: number, sourceBytes: number): number {
  return objectBytes + 2 * sourceBytes + 256 * 1024 * 1024;
}

export const createVerificationActivities = (deps: VerificationDeps) => {
  const { catalog, keyring, logger } = deps;
  const outbox = createOutbox(deps);

  async function checkRoom(manifest: BackupManifest): Promise<void> {
    if (!deps.budget) return;
    const needed = diskEstimate(manifest.object.sizeBytes, manifest.source.sizeBytes);
    const gb = (n: number) => `${(n / 1e9).toFixed(1)} GB`;
    if (needed > deps.budget.maxDiskBytes) {
      throw new HindsightError('no_space', `backup ${manifest.backupId} needs about ${gb(needed)} of sandbox disk, more than this agent's budget of ${gb(deps.budget.maxDiskBytes)} (raise --max-disk-gb)`);
    }
    const fs = await statfs(deps.budget.sandboxRoot).catch(() => undefined);
    if (fs && fs.bavail * fs.bsize < needed) {
      throw new HindsightError('no_space', `backup ${manifest.backupId} needs about ${gb(needed)} of sandbox disk, only ${gb(fs.bavail * fs.bsize)} free in ${deps.budget.sandboxRoot} (free space or move the sandbox root)`);
    }
  }

  return {
    /** Records a request and hands it to the verifier: called after every backup that reached a storage. */
    async requestVerification(input: { database: string; backupId?: string; trigger: VerifyRequest['trigger'] }): Promise<{ verificationId: string | null }> {
      return translated(async () => {
        const db = await catalog.getDatabase(input.database);
        if (input.trigger === 'backup' && !db.verifyAfterBackup) return { verificationId: null };
        const backupId = input.backupId ?? (await catalog.latestCompleteBackup(input.database)).id;
        if (!deps.signalVerifier) throw new HindsightError('bad_input', 'this worker cannot reach the verifier (no Temporal client)');
        const verificationId = newVerificationId(new Date(), randomBytes(3).toString('hex'));
        await catalog.verifications.request({ id: verificationId, database: input.database, backupId, trigger: input.trigger });
        await deps.signalVerifier(input.database, { verificationId, backupId, trigger: input.trigger });
        return { verificationId };
      });
    },

    async finishVerification(input: { verificationId: string; status: 'superseded' | 'failed' | 'cancelled'; reason: string }): Promise<void> {
      return translated(async () => {
        await catalog.verifications.finish(input.verificationId, input.status, null, input.reason);
        await notifyVerificationOutcome(catalog, outbox, logger, input.verificationId);
      });
    },

    /** Checksum, restore into a sandbox, exact counts; the report is stored as it grows. */
    async verifyBackupInSandbox(input: VerifyRequest & { database: string; workflowId: string }): Promise<{ status: 'successful' | 'failed'; reason: string | null; finishedAt: string }> {
      return translated(async () => {
        const ctx = Context.current();
        if (!deps.sandboxes) throw new HindsightError('bad_input', 'this worker runs no verification sandboxes (start it with the verify role)');
        // A request signalled from outside Hindsight (the temporal CLI) has no row yet.
        await catalog.verifications.request({ id: input.verificationId, database: input.database, backupId: input.backupId, trigger: input.trigger });
        await catalog.verifications.start(input.verificationId, input.workflowId);
        const finish = async (report: VerificationReport) => {
          const status = report.reason ? 'failed' as const : 'successful' as const;
          await catalog.verifications.finish(input.verificationId, status, report, report.reason);
          await notifyVerificationOutcome(catalog, outbox, logger, input.verificationId);
          logger.info({ database: input.database, backupId: input.backupId, verificationId: input.verificationId, status, reason: report.reason }, 'verification finished');
          return { status, reason: report.reason, finishedAt: new Date().toISOString() };
        };
        const backup = await catalog.getBackup(input.backupId);
        const names = backup.copies.filter((c) => c.status === 'complete').map((c) => c.storageName);
        const sources = await Promise.all(names.map(async (name) => ({ name, driver: createStorageDriver(name, await catalog.storageConfig(name)) })));
        const beat = setInterval(() => ctx.heartbeat(), 5000);
        // Stage changes are few: each is saved, in order, so the console can follow along.
        let saving: Promise<void> = Promise.resolve();
        try {
          logger.info({ database: input.database, backupId: input.backupId, verificationId: input.verificationId, attempt: ctx.info.attempt }, 'verification started');
          const report = await verifyBackup({
            open: () => openBackupFromAny(sources, input.database, input.backupId, (storage, reason) => logger.warn({ backupId: input.backupId, storage, reason }, 'backup copy unreadable, trying the next storage'), recordedChecksums(backup)),
            key: keyring.resolve,
            sandboxes: deps.sandboxes,
            checkRoom,
            signal: ctx.cancellationSignal,
            onReport: (r) => {
              saving = saving.then(() => catalog.verifications.progress(input.verificationId, r)).catch(() => undefined);
            },
          });
          await saving;
          if (ctx.cancellationSignal.aborted) throw new HindsightError('tool_failed', 'verification cancelled');
          return await finish(report);
        } finally {
          clearInterval(beat);
          await Promise.all(sources.map((s) => s.driver.close?.().catch(() => undefined)));
        }
      });
    },
  };
};
