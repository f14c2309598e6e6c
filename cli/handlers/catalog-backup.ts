/** What the commands of cli/commands/catalog-backup.ts do when they run. */
import { loadConfig } from '../../lib/config.ts';
import type { CatalogBackupOutcome } from '../../temporal/contracts/catalog-backup.ts';
import type { CatalogRestoreReport } from '../../services/catalog-backup/restore.ts';
import { requireInputFile } from '../file-args.ts';
import { formatBytes, printJson, UsageError } from '../output.ts';
import { readConfigArgument, sessionAs } from '../session.ts';
import type { Invocation } from '../commands/types.ts';

function outcomeLines(outcome: CatalogBackupOutcome): string[] {
  if (outcome.skipped) return [`no catalog backup taken: ${outcome.skipped}`];
  return [
    `catalog backup ${outcome.backupId} (schema ${outcome.schemaVersion ?? '-'})`,
    ...outcome.copies.map((c) => {
      const pruned = c.pruned?.length ? `, ${c.pruned.length} older removed` : '';
      const detail = c.status === 'complete' ? `${formatBytes(c.sizeBytes)}${pruned}` : (c.error ?? '');
      return `  ${c.storage.padEnd(16)} ${c.status.padEnd(9)} ${detail}${c.pruneError ? ` (retention: ${c.pruneError})` : ''}`;
    }),
  ];
}

export async function catalogBackupNow({ flags }: Invocation): Promise<void> {
  const { CatalogBackupService } = await import('../../services/catalog-backup/service.ts');
  await sessionAs(flags.as)(async ({ services, actor }) => {
    const started = await new CatalogBackupService(services.ctx).backupNow(actor, { wait: flags.wait === true });
    if (flags.json) printJson(started);
    else if (started.outcome) process.stdout.write(`${outcomeLines(started.outcome).join('\n')}\n`);
    else process.stdout.write(`${started.workflowId}\n`);
    if (started.outcome?.copies.some((c) => c.status === 'failed')) process.exitCode = 1;
  });
}

/** What each PITR archive's storage added to the restored rows: `ledger: +3 segments, 1 partial updated from storage`. */
function walRowsLine(rows: CatalogRestoreReport['walRows']): string[] {
  const parts = rows
    .filter((r) => r.storage !== null)
    .map((r) => {
      if (r.error !== undefined) return `${r.database}: not brought up to date from storage ${r.storage}: ${r.error}`;
      const counts = [`+${r.segments ?? 0} segments`];
      if (r.partials) counts.push(`${r.partials} partial updated`);
      if (r.baseBackups) counts.push(`+${r.baseBackups} base backups`);
      if (r.histories) counts.push(`+${r.histories} timeline histories`);
      const unread = r.unreadable?.[0];
      const skipped = unread ? ` (${r.unreadable!.length} objects not read; ${unread.key}: ${unread.reason})` : '';
      return `${r.database}: ${counts.join(', ')} from storage${skipped}`;
    });
  return parts.length > 0 ? [`  wal        ${parts.join('; ')}`] : [];
}

function restoreLines(report: CatalogRestoreReport): string[] {
  const { manifest, contents } = report;
  const schedules = report.reconciled.map(
    (r) => `${r.database}: ${[...r.schedules, ...(r.archiving ? ['WAL archiving'] : [])].join(', ') || 'none'}`,
  );
  return [
    `restored catalog backup ${manifest.backupId} taken ${manifest.finishedAt} (schema ${manifest.schemaVersion}, Hindsight ${manifest.hindsightVersion})`,
    ...(report.migrated.length > 0 ? [`  migrated   ${report.migrated.join(', ')}`] : []),
    `  databases  ${contents.databases.join(', ') || 'none'}`,
    `  storages   ${contents.storages.join(', ') || 'none'}`,
    `  backups    ${
      Object.entries(contents.backups)
        .map(([database, n]) => `${database}: ${n}`)
        .join(', ') || 'none'
    }`,
    `  users      ${contents.users}`,
    ...walRowsLine(report.walRows),
    `  started    ${schedules.join('; ') || 'nothing'}`,
    ...report.missingKeys.map(
      (id) => `warning: secrets sealed under key ${id} cannot be opened here: put that key file in the keys directory`,
    ),
    'next: restart Hindsight (npm start, or the worker and console services) so that every process starts from the',
    '      restored catalog; then check it with hindsight doctor and hindsight db list',
  ];
}

export async function catalogRestore({ flags }: Invocation): Promise<void> {
  if (flags.id !== undefined && flags.newest)
    throw new UsageError('catalog restore takes --id <id> or --newest, not both');
  if (flags.key) await requireInputFile(flags.key, '--key file', 'give the secret key file of the lost installation');
  const storageConfig = await readConfigArgument(flags['storage-config']!, '--storage-config');
  const [{ restoreCatalogHere }, { connectTemporalClient }] = await Promise.all([
    import('../../services/catalog-backup/restore.ts'),
    import('../../temporal/client.ts'),
  ]);
  const config = loadConfig();
  const report = await restoreCatalogHere(config, { storageConfig, keyFile: flags.key, id: flags.id }, (runtime) =>
    connectTemporalClient(config, runtime),
  );
  if (flags.json) printJson(report);
  else process.stdout.write(`${restoreLines(report).join('\n')}\n`);
}
