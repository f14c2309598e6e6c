import { missingPrivateKey } from '../lib/verify/key-holder.ts';
import { randomBytes } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import { Context } from '@temporalio/activity';
import type { BackupManifest } from '../lib/backup/manifest.ts';
import type { Catalog } from '../lib/catalog/catalog.ts';
import type { Keyring } from '../lib/crypto/keyring.ts';
import { HindsightError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { SandboxDriver } from '../lib/sandbox/contract.ts';
import type { VerificationReport } from '../lib/verify/report.ts';
import { verifyBackup } from '../lib/verify/verify-backup.ts';
import { newVerificationId, type VerifyRequest } from '../temporal/contracts/verify.ts';
import { bindActivities } from './bind.ts';
import { createOutbox, notifyVerificationOutcome, type NotificationDeps } from './notifications.ts';
import { heartbeatWhile } from './progress.ts';
import { openRecordedBackup, withDrivers } from './storage-access.ts';

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

async function checkRoom(budget: VerificationBudget | undefined, manifest: BackupManifest): Promise<void> {
  if (!budget) return;
  const needed = diskEstimate(manifest.object.sizeBytes, manifest.source.sizeBytes);
  const gb = (n: number) => `${(n / 1e9).toFixed(1)} GB`;
  if (needed > budget.maxDiskBytes) {
    throw new HindsightError(
      'no_space',
      `backup ${manifest.backupId} needs about ${gb(needed)} of sandbox disk, more than this agent's budget of ${gb(budget.maxDiskBytes)} (raise --max-disk-gb)`,
    );
  }
  const fs = await statfs(budget.sandboxRoot).catch(() => undefined);
  if (fs && fs.bavail * fs.bsize < needed) {
    throw new HindsightError(
      'no_space',
      `backup ${manifest.backupId} needs about ${gb(needed)} of sandbox disk, only ${gb(fs.bavail * fs.bsize)} free in ${budget.sandboxRoot} (free space or move the sandbox root)`,
    );
  }
}

/** Records a request and hands it to the verifier: called after every backup that reached a storage. */
async function requestVerification(
  deps: VerificationDeps,
  input: { database: string; backupId?: string; trigger: VerifyRequest['trigger'] },
): Promise<{ verificationId: string | null }> {
  const { catalog } = deps;
  const db = await catalog.getDatabase(input.database);
  if (input.trigger === 'backup' && !db.verifyAfterBackup) return { verificationId: null };
  const backupId = input.backupId ?? (await catalog.latestCompleteBackup(input.database)).id;
  if (!deps.signalVerifier)
    throw new HindsightError('bad_input', 'this worker cannot reach the verifier (no Temporal client)');
  const verificationId = newVerificationId(new Date(), randomBytes(3).toString('hex'));
  await catalog.verifications.request({
    id: verificationId,
    database: input.database,
    backupId,
    trigger: input.trigger,
  });
  await deps.signalVerifier(input.database, { verificationId, backupId, trigger: input.trigger });
  return { verificationId };
}

async function finishVerification(
  deps: VerificationDeps,
  input: { verificationId: string; status: 'superseded' | 'failed' | 'cancelled'; reason: string },
): Promise<void> {
  await deps.catalog.verifications.finish(input.verificationId, input.status, null, input.reason);
  await notifyVerificationOutcome(deps.catalog, createOutbox(deps), deps.logger, input.verificationId);
}

type VerifyInput = VerifyRequest & { database: string; workflowId: string };
type VerifyOutcome = { status: 'successful' | 'failed' | 'skipped'; reason: string | null; finishedAt: string };

/** Stores the final report, notifies, and says how it ended. */
async function finishWithReport(
  deps: VerificationDeps,
  input: VerifyInput,
  report: VerificationReport,
): Promise<VerifyOutcome> {
  const status = report.reason ? ('failed' as const) : ('successful' as const);
  await deps.catalog.verifications.finish(input.verificationId, status, report, report.reason);
  await notifyVerificationOutcome(deps.catalog, createOutbox(deps), deps.logger, input.verificationId);
  deps.logger.info(
    {
      database: input.database,
      backupId: input.backupId,
      verificationId: input.verificationId,
      status,
      reason: report.reason,
    },
    'verification finished',
  );
  return { status, reason: report.reason, finishedAt: new Date().toISOString() };
}

/** Checksum, restore into a sandbox, exact counts; the report is stored as it grows. */
async function verifyBackupInSandbox(deps: VerificationDeps, input: VerifyInput): Promise<VerifyOutcome> {
  const { catalog, keyring, logger } = deps;
  const ctx = Context.current();
  const sandboxes = deps.sandboxes;
  if (!sandboxes)
    throw new HindsightError('bad_input', 'this worker runs no verification sandboxes (start it with the verify role)');
  // A request signalled from outside Hindsight (the temporal CLI) has no row yet.
  await catalog.verifications.request({
    id: input.verificationId,
    database: input.database,
    backupId: input.backupId,
    trigger: input.trigger,
  });
  await catalog.verifications.start(input.verificationId, input.workflowId);
  const backup = await catalog.getBackup(input.backupId);
  const names = backup.copies.filter((c) => c.status === 'complete').map((c) => c.storageName);
  const where = { database: input.database, backupId: input.backupId, verificationId: input.verificationId };
  return withDrivers(catalog, names, async (sources) => {
    // Public-key mode: only an agent holding the recipient's identity can verify; elsewhere it is skipped, saying why.
    const unreadable =
      backup.objectKey && sources[0]
        ? await missingPrivateKey(sources[0].driver, backup.objectKey, keyring.decryption())
        : undefined;
    if (unreadable) {
      await catalog.verifications.finish(input.verificationId, 'skipped', null, unreadable);
      logger.info({ ...where, reason: unreadable }, 'verification skipped');
      return { status: 'skipped' as const, reason: unreadable, finishedAt: new Date().toISOString() };
    }
    return heartbeatWhile(5000, async () => {
      // Stage changes are few: each is saved, in order, so the console can follow along.
      let saving: Promise<void> = Promise.resolve();
      logger.info({ ...where, attempt: ctx.info.attempt }, 'verification started');
      const report = await verifyBackup({
        open: () => openRecordedBackup(sources, input.database, backup, logger),
        key: keyring.decryption(),
        sandboxes,
        checkRoom: (manifest) => checkRoom(deps.budget, manifest),
        signal: ctx.cancellationSignal,
        onReport: (r) => {
          saving = saving.then(() => catalog.verifications.progress(input.verificationId, r)).catch(() => undefined);
        },
      });
      await saving;
      if (ctx.cancellationSignal.aborted) throw new HindsightError('tool_failed', 'verification cancelled');
      return finishWithReport(deps, input, report);
    });
  });
}

export const createVerificationActivities = (deps: VerificationDeps) =>
  bindActivities(deps, {
    requestVerification,
    finishVerification,
    verifyBackupInSandbox,
  });
