/** Backups and databases as the console's cards and tables show them: plain data, no secrets. */
import type { BackupRecord, DatabaseRecord } from '../../../../../lib/catalog/catalog.ts';
import type { VerificationSummary } from '../../../../../lib/verify/report.ts';
import type { Action } from '../../../../../services/authz.ts';
import type { Services } from '../../../../../services/index.ts';
import { workflowUrl } from '../../../../../temporal/client.ts';
import { temporalUiLink } from './temporal-ui.ts';
import type { ActorRef, ConsoleBackup, ConsoleDatabase } from './types.ts';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function toConsoleVerification(v: VerificationSummary | undefined): ConsoleBackup['verification'] {
  if (!v) return null;
  return {
    id: v.id,
    status: v.status,
    reason: v.reason,
    finishedAt: v.finishedAt,
    tables: v.report?.tables ?? null,
    rows: v.report?.restoredRows ?? null,
    mismatches: v.report?.mismatches ?? 0,
  };
}

/**
 * Where `actor`'s links to workflows point: the Temporal UI, or null when they may not open it
 * (temporal-ui.ts decides, as for the header's link), so that no page offers a link it refuses.
 */
export async function workflowLinkBase(services: Services, actor: ActorRef): Promise<string | null> {
  return (await temporalUiLink(services, actor)) === null ? null : services.ctx.runtime.config.temporalUiUrl;
}

/** A backup as the tables show it; `uiUrl` null: no link to its workflow (workflowLinkBase). */
export function toConsoleBackup(
  b: BackupRecord,
  uiUrl: string | null,
  namespace: string,
  verification?: VerificationSummary,
): ConsoleBackup {
  return {
    id: b.id,
    databaseName: b.databaseName,
    status: b.status,
    trigger: b.trigger,
    copies: b.copies.map((c) => ({ storageName: c.storageName, status: c.status, error: c.error })),
    startedAt: b.startedAt.toISOString(),
    finishedAt: iso(b.finishedAt),
    durationMs: b.finishedAt ? b.finishedAt.getTime() - b.startedAt.getTime() : null,
    sizeBytes: b.sizeBytes,
    dumpBytes: b.dumpBytes,
    compression: b.compression,
    sha256: b.sha256,
    tables: b.rowCounts ? b.rowCounts.length : null,
    rows: b.rowCounts ? b.rowCounts.reduce((sum, t) => sum + t.rows, 0) : null,
    error: b.error,
    warnings: b.warnings.map((w) => w.message),
    restore: b.lastRestore
      ? {
          status: b.lastRestore.status,
          finishedAt: iso(b.lastRestore.finishedAt),
          tablesChecked: b.lastRestore.tablesChecked,
          rowsChecked: b.lastRestore.rowsChecked,
          error: b.lastRestore.error,
        }
      : null,
    verification: toConsoleVerification(verification),
    workflowUrl: uiUrl === null ? null : workflowUrl(uiUrl, namespace, b.workflowId),
  };
}

export function toConsoleDatabase(
  d: DatabaseRecord,
  backups: BackupRecord[],
  may: (action: Action) => boolean,
): ConsoleDatabase {
  const mine = backups.filter((b) => b.databaseName === d.name);
  const lastComplete = mine.find((b) => b.status === 'complete' || b.status === 'partial');
  return {
    name: d.name,
    host: d.host,
    port: d.port,
    dbname: d.dbname,
    username: d.username,
    storageNames: d.storageNames,
    schedule: d.schedule,
    timezone: d.timezone,
    lastCompleteBackupAt: iso(lastComplete?.finishedAt ?? null),
    backupCount: mine.length,
    allowed: { backup: may('backup.start'), verify: may('verification.start') },
  };
}
