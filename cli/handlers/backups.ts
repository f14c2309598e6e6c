/** What the commands of cli/commands/backups.ts do when they run: loaded only then, so that the table and `--help` stay light. */
import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { printJob } from '../job-output.ts';
import type { Actor } from '../../services/authz.ts';
import type { Services } from '../../services/index.ts';
import type { BackupOutcome, ReplicateOutcome } from '../../temporal/contracts/backup.ts';
import { backupLines, verificationLine, verificationState } from '../backup-output.ts';
import { requireOutputDirectory } from '../file-args.ts';
import { printArchivePlan, printStoragePlans, runLine, storageSavedLine } from '../retention-output.ts';
import { formatBytes, printJson, printList, printTable, UsageError } from '../output.ts';
import { nameList, readConfigArgument, sessionAs } from '../session.ts';
import type { Invocation } from '../commands/types.ts';

/**
 * A backup now. With --wait, what it stored where, then the verification that follows it once that
 * ends; exit 1 when a copy or the verification failed.
 */
export async function backupNow({ args: [database], flags }: Invocation): Promise<void> {
  await sessionAs(flags.as)(async ({ services, actor }) => {
    const started = await services.backups.start(actor, database!, 'manual');
    if (!flags.wait) {
      if (flags.json) printJson({ backupId: started.backupId, workflowId: started.workflowId });
      else process.stdout.write(`${started.backupId}\n`);
      return;
    }
    const outcome = await started.result();
    if (!flags.json) process.stdout.write(`${backupLines(outcome).join('\n')}\n`);
    const verification = await verificationOf(services, actor, outcome);
    if (flags.json) printJson({ ...outcome, workflowId: started.workflowId, verification: verification ?? null });
    else process.stdout.write(`  verification  ${verificationLine(database!, outcome.backupId, verification)}\n`);
    if (outcome.status !== 'complete' || verification?.status === 'failed') process.exitCode = 1;
  });
}

/** The verification the backup asked for once it has ended (none for a cancelled backup, or when none was asked). */
async function verificationOf(services: Services, actor: Actor, outcome: BackupOutcome) {
  if (outcome.status === 'cancelled') return undefined;
  const requested = await services.verifications.newestOf(actor, outcome.database, [outcome.backupId]);
  const verification = requested.get(outcome.backupId);
  return verification && services.verifications.finished(actor, verification.id);
}

export async function listBackups({ args: [database], flags }: Invocation): Promise<void> {
  const { backups, verifications } = await sessionAs(flags.as, { temporal: false })(async ({ services, actor }) => {
    const list = await services.backupReads.list(actor, database!);
    const ids = list.map((b) => b.id);
    return { backups: list, verifications: await services.verifications.newestOf(actor, database!, ids) };
  });
  // The verdict beside each backup; `hindsight verifications` and `verify --wait` give the whole report.
  const rows = backups.map((b) => {
    const v = verifications.get(b.id);
    return {
      ...b,
      verification: v ? { id: v.id, status: v.status, reason: v.reason, finishedAt: v.finishedAt } : null,
    };
  });
  printList(
    flags.json,
    rows,
    (b) => ({
      id: b.id,
      started: b.startedAt.toISOString(),
      status: b.status,
      size: formatBytes(b.sizeBytes),
      rows: b.rowCounts ? String(b.rowCounts.reduce((s, t) => s + t.rows, 0)) : '-',
      copies: b.copies.map((c) => `${c.storageName}:${c.status}`).join(' '),
      verification: verificationState(b.verification ?? undefined),
      warnings: b.warnings.length > 0 ? b.warnings.map((w) => w.message.split('\n')[0]!.slice(0, 80)).join(' | ') : '',
    }),
    `no backups of "${database}" yet: hindsight backup ${database}`,
  );
}

/** `--policy` as given: a JSON policy, @file, or `off` (only with --storage: follow the database's). */
async function policyArgument(flags: Invocation['flags']): Promise<unknown> {
  if (flags.policy === undefined) return undefined;
  if (flags.storage !== undefined && flags.policy === 'off') return null;
  return readConfigArgument(flags.policy, '--policy');
}

export async function retention({ args: [database], flags }: Invocation): Promise<void> {
  const policy = await policyArgument(flags);
  const { json } = flags;
  const storage = flags.storage;
  await sessionAs(flags.as)(async ({ services, actor }) => {
    if (flags.run) {
      const started = await services.retention.start(actor, database!);
      if (!flags.wait) return void process.stdout.write(`${started.workflowId}\n`);
      const outcome = await started.result();
      if (json) printJson(outcome);
      else process.stdout.write(runLine(database!, outcome));
      return;
    }
    // As for the database's policy, a policy given is a dry run until --save.
    if (storage !== undefined && policy !== undefined && flags.save) {
      const saved = await services.retention.setStoragePolicy(actor, database!, storage, policy);
      if (!json) process.stdout.write(storageSavedLine(database!, saved));
    } else if (flags.save) {
      const record = await services.retention.setPolicy(actor, database!, policy ?? null);
      if (!json)
        process.stdout.write(
          record.retentionPolicy
            ? `retention policy of "${database}" saved; it runs daily (schedule retention/${database})\n`
            : `retention of "${database}" is off\n`,
        );
    }
    const saving = flags.save === true;
    const { plan } = await services.retention.plan(
      actor,
      database!,
      saving ? undefined : policy,
      saving ? undefined : storage,
    );
    if (json) return printJson(plan);
    process.stdout.write(`${plan.summary}\n`);
    printTable([
      ...plan.delete.map((d) => ({ backup: d.id, decision: 'delete', why: d.reason })),
      ...plan.keep.map((k) => ({ backup: k.id, decision: 'keep', why: k.reasons.join('; ') })),
    ]);
    printStoragePlans(plan);
    printArchivePlan(plan);
  });
}

export async function download({ args: [backupId], flags }: Invocation): Promise<void> {
  const output = flags.output!;
  await requireOutputDirectory(output);
  const partial = `${output}.partial-${process.pid}`;
  await sessionAs(flags.as, { temporal: false })(async ({ services, actor }) => {
    const opened = await services.backupReads.download(actor, backupId!, {
      decrypt: !flags.encrypted,
      onFallback: (storage, reason) =>
        process.stderr.write(
          `hindsight: storage "${storage}" could not serve backup ${backupId} (${reason}); trying the next one\n`,
        ),
    });
    let bytes: number;
    try {
      await pipeline(opened.stream, createWriteStream(partial, { mode: 0o600 }));
      await rename(partial, output);
      bytes = (await stat(output)).size;
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    if (flags.json) printJson({ backupId, file: output, storage: opened.storageName, bytes });
    else
      process.stdout.write(
        `wrote ${output} (${formatBytes(bytes)}, from storage "${opened.storageName}", checksums verified)\n`,
      );
  });
}

/**
 * `backups copy <id> [--to a,b]`: one backup into the storages it missed or those named;
 * `backups copy --database <db> --to <storage>`: every backup of <db> that storage lacks.
 * With --wait, the outcome of each; exit 1 when a copy failed.
 */
export async function backupCopy({ args: [backupId], flags }: Invocation): Promise<void> {
  const storages = flags.to === undefined ? undefined : nameList(flags.to);
  if (flags.database !== undefined) {
    if (backupId) throw new UsageError('backups copy takes a <backup-id> or --database <db>, not both');
    if (storages?.length !== 1)
      throw new UsageError(
        'backups copy --database <db> needs --to <storage>: the one storage to copy its backups into',
      );
    return copyAllTo(flags.database, storages[0]!, flags);
  }
  if (!backupId)
    throw new UsageError('backups copy needs <backup-id>, or --database <db> --to <storage> for every backup of <db>');
  await sessionAs(flags.as)(async ({ services, actor }) => {
    const outcome = await printJob(
      await services.backups.replicate(actor, backupId, storages ? { storages } : {}),
      flags,
      (o) => `backup ${backupId} is ${o.status}: ${copiesLine(o)}`,
    );
    const asked = (name: string) => !storages || storages.includes(name);
    if (outcome?.copies.some((c) => c.status !== 'complete' && asked(c.storageName))) process.exitCode = 1;
  });
}

const copiesLine = (o: ReplicateOutcome) =>
  o.copies.map((c) => `${c.storageName} ${c.status}${c.error ? ` (${c.error})` : ''}`).join(', ');

async function copyAllTo(database: string, storage: string, flags: Invocation['flags']): Promise<void> {
  await sessionAs(flags.as)(async ({ services, actor }) => {
    const { started } = await services.backups.copyAllTo(actor, database, storage);
    const empty = `storage "${storage}" holds every backup of "${database}" already`;
    if (!flags.wait) {
      const rows = started.map((s) => ({ backupId: s.backupId, workflowId: s.workflowId }));
      return printList(flags.json, rows, (r) => ({ backup: r.backupId, workflow: r.workflowId }), empty);
    }
    const rows = (await Promise.all(started.map((s) => s.result()))).map((o) => {
      const copy = o.copies.find((c) => c.storageName === storage);
      return { backupId: o.backupId, status: copy?.status ?? 'failed', error: copy?.error ?? '' };
    });
    printList(flags.json, rows, (r) => ({ backup: r.backupId, status: r.status, error: r.error }), empty);
    if (rows.some((r) => r.status !== 'complete')) process.exitCode = 1;
  });
}

/** `backups delete <id> [--dry-run] [--reason text]`: one backup, from every storage, then the catalog. */
export async function backupDelete({ args: [backupId], flags }: Invocation): Promise<void> {
  await sessionAs(flags.as, { temporal: false })(async ({ services, actor }) => {
    const outcome = await services.backups.delete(actor, backupId!, {
      dryRun: flags['dry-run'] === true,
      ...(flags.reason === undefined ? {} : { reason: flags.reason }),
    });
    if (flags.json) return printJson(outcome);
    const where = outcome.storages.length > 0 ? `storage ${outcome.storages.join(', ')}` : 'no storage';
    process.stdout.write(
      outcome.dryRun
        ? `backup ${outcome.backupId} of database "${outcome.database}" may be deleted: it is held by ${where} (dry run: nothing deleted)\n`
        : `deleted backup ${outcome.backupId} of database "${outcome.database}" from ${where}\n`,
    );
  });
}
