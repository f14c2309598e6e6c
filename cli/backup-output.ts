/**
 * A backup as `hindsight backup --wait` and `hindsight backups` print it: what was stored where,
 * and whether a restore proved it (the verification that follows every backup).
 */
import type { VerificationSummary } from '../lib/verify/report.ts';
import type { BackupOutcome } from '../temporal/contracts/backup.ts';
import { counted } from '../lib/counted.ts';
import { formatBytes } from './output.ts';

/** The VERIFICATION column: `verified` or `failed` once one ended, else where it is (`-`: none asked). */
export function verificationState(v: Pick<VerificationSummary, 'status'> | undefined): string {
  if (!v) return '-';
  if (v.status === 'successful') return 'verified';
  return v.status;
}

/** One line on the verification of a finished backup, or why there is none. */
export function verificationLine(database: string, backupId: string, v: VerificationSummary | undefined): string {
  if (!v)
    return `none requested (verification after each backup is off, or the verifier was unreachable): hindsight verify ${database} --backup ${backupId}`;
  const r = v.report;
  if (v.status === 'successful')
    return `verified: ${counted(r?.tables, 'table')}, ${counted(r?.restoredRows, 'row')} restored and matched (${v.id})`;
  return `${verificationState(v)}${v.reason ? `: ${v.reason}` : ''} (${v.id}; hindsight verifications ${database})`;
}

/** `backup <id> of "<db>": complete`, then size, rows and each storage's copy. */
export function backupLines(outcome: BackupOutcome): string[] {
  const head = `backup ${outcome.backupId} of "${outcome.database}": ${outcome.status}${outcome.reason ? ` (${outcome.reason})` : ''}`;
  if (outcome.status === 'cancelled') return [head];
  const copies = outcome.copies.map(
    (c) =>
      `${c.storageName} ${c.status}${c.sizeBytes !== undefined ? ` (${formatBytes(c.sizeBytes)})` : ''}${c.error ? `: ${c.error}` : ''}`,
  );
  return [
    head,
    `  size          ${formatBytes(outcome.sizeBytes)} stored, ${formatBytes(outcome.dumpBytes)} dump (sha256 ${outcome.sha256})`,
    `  rows          ${outcome.rows} in ${counted(outcome.tables, 'table')}`,
    `  copies        ${copies.join('; ')}`,
    ...(outcome.warnings ?? []).map((w) => `  warning       ${w.split('\n')[0]}`),
  ];
}
