/** How `hindsight retention` shows the PITR archive's part of a plan and of a run. */
import type { RetentionPlan } from '../lib/retention/plan-types.ts';
import type { RetentionOutcome } from '../temporal/contracts/retention.ts';
import { formatBytes, printTable } from './output.ts';

/** Base backups deleted with their reasons, then per timeline the WAL range that goes and its size. */
export function printArchivePlan(plan: RetentionPlan): void {
  const bases = [
    ...plan.deleteBaseBackups.map((d) => ({ 'base backup': d.id, decision: 'delete', why: d.reason })),
    ...plan.keepBaseBackups.map((k) => ({ 'base backup': k.id, decision: 'keep', why: k.reasons.join('; ') })),
  ];
  if (bases.length > 0) process.stdout.write('\n');
  printTable(bases);
  if (plan.walRefusal) return void process.stdout.write(`\nWAL: refused: ${plan.walRefusal}\n`);
  const cuts = plan.walCuts ?? [];
  if (cuts.length > 0) process.stdout.write('\n');
  printTable(
    cuts.map((c) => ({
      timeline: String(c.timeline),
      'delete WAL': `${c.first}..${c.last}`,
      lsn: `${c.firstLsn}..${c.lastLsn}`,
      segments: String(c.segments),
      bytes: formatBytes(c.bytes),
    })),
  );
  const histories = plan.deleteHistories ?? [];
  if (histories.length > 0) process.stdout.write(`history files to delete: timelines ${histories.join(', ')}\n`);
}

/** Per storage with a policy of its own: what it does with the copies it holds, copy by copy. */
export function printStoragePlans(plan: RetentionPlan): void {
  for (const storage of plan.storages ?? []) {
    process.stdout.write(`\nstorage ${storage.storage}: ${storage.summary}\n`);
    printTable([
      ...storage.delete.map((d) => ({ copy: d.id, decision: 'delete', why: d.reason })),
      ...storage.keep.map((k) => ({ copy: k.id, decision: 'keep', why: k.reasons.join('; ') })),
    ]);
  }
}

export function storageSavedLine(database: string, saved: { storage: string; retentionPolicy: unknown }): string {
  return saved.retentionPolicy === null
    ? `storage "${saved.storage}" of "${database}" follows the database's retention policy\n`
    : `retention policy of storage "${saved.storage}" of "${database}" saved; it applies to the copies there\n`;
}

/** The run's one line, with the archive's part when it pruned one. */
export function runLine(database: string, outcome: RetentionOutcome): string {
  const skipped = outcome.skipped.length ? `, ${outcome.skipped.length} skipped` : '';
  const archive =
    outcome.deletedBaseBackups === undefined
      ? ''
      : `; PITR archive: ${outcome.deletedBaseBackups.length} base backups and ${outcome.wal?.segments ?? 0} WAL segments deleted`;
  const copies = outcome.deletedCopies?.length ? `, ${outcome.deletedCopies.length} copies deleted` : '';
  return `retention of "${database}": ${outcome.deleted.length} deleted, ${outcome.kept} kept${copies}${skipped}${archive}\n`;
}
