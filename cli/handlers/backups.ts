/** What the commands of cli/commands/backups.ts do when they run: loaded only then, so that the table and `--help` stay light. */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { printJob } from '../job-output.ts';
import { formatBytes, printJson, printTable } from '../output.ts';
import { readConfigArgument, sessionAs } from '../session.ts';
import type { Invocation } from '../commands/types.ts';

export async function backupNow({ args: [database], flags }: Invocation): Promise<void> {
  await sessionAs(flags.as)(async ({ services, actor }) => {
    const started = await services.backups.start(actor, database!, 'manual');
    if (!flags.wait) {
      if (flags.json) printJson({ backupId: started.backupId, workflowId: started.workflowId });
      else process.stdout.write(`${started.backupId}\n`);
      return;
    }
    const outcome = await started.result();
    if (flags.json) printJson({ ...outcome, workflowId: started.workflowId });
    else process.stdout.write(`${outcome.backupId}\n`);
  });
}

export async function listBackups({ args: [database], flags }: Invocation): Promise<void> {
  const backups = await sessionAs(flags.as)(({ services, actor }) => services.backupReads.list(actor, database!));
  if (flags.json) printJson(backups);
  else if (backups.length === 0)
    process.stdout.write(`no backups of "${database}" yet: hindsight backup ${database}\n`);
  else
    printTable(
      backups.map((b) => ({
        id: b.id,
        started: b.startedAt.toISOString(),
        status: b.status,
        size: formatBytes(b.sizeBytes),
        rows: b.rowCounts ? String(b.rowCounts.reduce((s, t) => s + t.rows, 0)) : '-',
        copies: b.copies.map((c) => `${c.storageName}:${c.status}`).join(' '),
        verification: b.lastRestore ? b.lastRestore.status : '-',
        warnings:
          b.warnings.length > 0 ? b.warnings.map((w) => w.message.split('\n')[0]!.slice(0, 80)).join(' | ') : '',
      })),
    );
}

export async function retention({ args: [database], flags }: Invocation): Promise<void> {
  const policy = flags.policy !== undefined ? await readConfigArgument(flags.policy, '--policy') : undefined;
  const { json } = flags;
  await sessionAs(flags.as)(async ({ services, actor }) => {
    if (flags.run) {
      const started = await services.retention.start(actor, database!);
      if (!flags.wait) return void process.stdout.write(`${started.workflowId}\n`);
      const outcome = await started.result();
      if (json) printJson(outcome);
      else
        process.stdout.write(
          `retention of "${database}": ${outcome.deleted.length} deleted, ${outcome.kept} kept${outcome.skipped.length ? `, ${outcome.skipped.length} skipped` : ''}\n`,
        );
      return;
    }
    if (flags.save) {
      const record = await services.retention.setPolicy(actor, database!, policy ?? null);
      if (!json)
        process.stdout.write(
          record.retentionPolicy
            ? `retention policy of "${database}" saved; it runs daily (schedule retention/${database})\n`
            : `retention of "${database}" is off\n`,
        );
    }
    const { plan } = await services.retention.plan(actor, database!, policy);
    if (json) return printJson(plan);
    process.stdout.write(`${plan.summary}\n`);
    printTable([
      ...plan.delete.map((d) => ({ backup: d.id, decision: 'delete', why: d.reason })),
      ...plan.keep.map((k) => ({ backup: k.id, decision: 'keep', why: k.reasons.join('; ') })),
    ]);
  });
}

export async function download({ args: [backupId], flags }: Invocation): Promise<void> {
  const output = flags.output!;
  const partial = `${output}.partial-${process.pid}`;
  await sessionAs(flags.as)(async ({ services, actor }) => {
    const opened = await services.backupReads.download(actor, backupId!, {
      decrypt: !flags.encrypted,
      onFallback: (storage, reason) =>
        process.stderr.write(
          `hindsight: storage "${storage}" could not serve backup ${backupId} (${reason}); trying the next one\n`,
        ),
    });
    try {
      await pipeline(opened.stream, createWriteStream(partial, { mode: 0o600 }));
      await rename(partial, output);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    if (flags.json) printJson({ backupId, file: output, storage: opened.storageName, bytes: opened.sizeBytes });
    else
      process.stdout.write(
        `wrote ${output} (${formatBytes(opened.sizeBytes)}, from storage "${opened.storageName}", checksums verified)\n`,
      );
  });
}

export async function backupCopy({ args: [backupId], flags }: Invocation): Promise<void> {
  await sessionAs(flags.as)(async ({ services, actor }) => {
    const outcome = await printJob(
      await services.backups.replicate(actor, backupId!),
      flags,
      (o) =>
        `backup ${backupId} is ${o.status}: ${o.copies.map((c) => `${c.storageName} ${c.status}${c.error ? ` (${c.error})` : ''}`).join(', ')}`,
    );
    if (outcome && outcome.status !== 'complete') process.exitCode = 1;
  });
}
