import type { BackupRecord, DatabaseRecord } from '../lib/catalog/catalog.ts';
import type { VerificationSummary } from '../lib/verify/report.ts';
import { workflowUrl } from '../temporal/client.ts';
import type { ConsoleBackup, ConsoleDatabase, ConsoleServices } from './console-view.ts';
import type { Operations } from './operations.ts';
import type { Runtime } from './runtime.ts';
import { createNotifierOperations } from './notifiers.ts';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function toConsoleVerification(v: VerificationSummary | undefined): ConsoleBackup['verification'] {
  if (!v) return null;
  return {
    id: v.id, status: v.status, reason: v.reason, finishedAt: v.finishedAt,
    tables: v.report?.tables ?? null, rows: v.report?.restoredRows ?? null, mismatches: v.report?.mismatches ?? 0,
  };
}

function toConsoleBackup(b: BackupRecord, uiUrl: string, namespace: string, verification?: VerificationSummary): ConsoleBackup {
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
    restore: b.lastRestore
      ? { status: b.lastRestore.status, finishedAt: iso(b.lastRestore.finishedAt), tablesChecked: b.lastRestore.tablesChecked, rowsChecked: b.lastRestore.rowsChecked, error: b.lastRestore.error }
      : null,
    verification: toConsoleVerification(verification),
    workflowUrl: workflowUrl(uiUrl, namespace, b.workflowId),
  };
}

function toConsoleDatabase(d: DatabaseRecord, backups: BackupRecord[]): ConsoleDatabase {
  const mine = backups.filter((b) => b.databaseName === d.name);
  const lastComplete = mine.find((b) => b.status === 'complete' || b.status === 'partial');
  return {
    name: d.name, host: d.host, port: d.port, dbname: d.dbname, username: d.username, storageNames: d.storageNames,
    schedule: d.schedule, timezone: d.timezone, lastCompleteBackupAt: iso(lastComplete?.finishedAt ?? null), backupCount: mine.length,
  };
}

/** The console's view of the service layer: plain data, no secrets. */
export function createConsoleServices(runtime: Runtime, operations: Operations): ConsoleServices {
  const { config } = runtime;
  const notifierOps = createNotifierOperations(runtime);
  return {
    async overview() {
      const [databases, backups, storages] = await Promise.all([runtime.catalog.listDatabases(), runtime.catalog.listBackups(undefined, 500), runtime.catalog.listStorages()]);
      const verifications = await runtime.catalog.verifications.newestFor(backups.map((b) => b.id));
      return {
        databases: databases.map((d) => toConsoleDatabase(d, backups)),
        storages: storages.map((st) => ({ name: st.name, type: st.type, settings: st.settings })),
        backups: backups.map((b) => toConsoleBackup(b, config.temporalUiUrl, config.temporalNamespace, verifications.get(b.id))),
        temporalUiUrl: config.temporalUiUrl,
        generatedAt: new Date().toISOString(),
      };
    },
    async requestVerification(database) {
      const requested = await operations.requestVerification(database);
      return { verificationId: requested.verificationId, backupId: requested.backupId };
    },
    async notifiers() {
      const [list, deliveries] = await Promise.all([notifierOps.listNotifiers(), notifierOps.deliveries({ limit: 50 })]);
      return {
        notifiers: list.map((n) => ({
          name: n.name, type: n.type, summary: n.summary, events: n.events, databases: n.databases,
          health: n.consecutiveFailures > 0 ? 'failing' as const : n.lastSuccessAt ? 'ok' as const : 'unused' as const,
          consecutiveFailures: n.consecutiveFailures, lastError: n.lastError, lastSuccessAt: iso(n.lastSuccessAt), lastFailureAt: iso(n.lastFailureAt),
        })),
        deliveries: deliveries.map((d) => ({
          id: d.id, notifier: d.notifierName, event: d.event, database: d.database, message: d.message, status: d.status,
          attempts: d.attempts, lastError: d.status === 'sent' ? null : d.lastError, at: d.createdAt.toISOString(),
        })),
        temporalUiUrl: config.temporalUiUrl,
        generatedAt: new Date().toISOString(),
      };
    },
    async testNotifier(name) {
      const result = await notifierOps.testNotifier(name);
      return { ok: result.ok, detail: result.detail, elapsedMs: result.elapsedMs };
    },
    async startBackup(database) {
      const started = await operations.startBackup(database, 'manual');
      return { workflowId: started.workflowId, backupId: started.backupId };
    },
  };
}
