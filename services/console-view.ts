/**
 * What the console shows, as plain data. The express server builds an implementation from the
 * service layer and hands it to SvelteKit (see web/src/lib/server/services.ts); pages never touch
 * the catalog, the secret key or Temporal directly.
 */
export interface ConsoleDatabase {
  name: string;
  host: string;
  port: number;
  dbname: string;
  username: string;
  storageNames: string[];
  schedule: string | null;
  timezone: string;
  lastCompleteBackupAt: string | null;
  backupCount: number;
}

export interface ConsoleBackup {
  id: string;
  databaseName: string;
  status: 'running' | 'complete' | 'partial' | 'failed' | 'cancelled';
  trigger: string;
  /** One entry per storage the backup was meant to reach. */
  copies: { storageName: string; status: 'pending' | 'complete' | 'failed'; error: string | null }[];
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  sizeBytes: number | null;
  dumpBytes: number | null;
  compression: string | null;
  sha256: string | null;
  tables: number | null;
  rows: number | null;
  error: string | null;
  /** The newest restore of this backup: 'verified' means every table's row count matched. */
  restore: { status: 'running' | 'verified' | 'failed'; finishedAt: string | null; tablesChecked: number | null; rowsChecked: number | null; error: string | null } | null;
  /** The newest verification in a throwaway server: exact per-table counts against the manifest. */
  verification: {
    id: string;
    status: 'pending' | 'running' | 'successful' | 'failed' | 'superseded' | 'cancelled';
    reason: string | null;
    finishedAt: string | null;
    tables: number | null;
    rows: number | null;
    mismatches: number;
  } | null;
  /** Link to the backup's workflow in the Temporal UI. */
  workflowUrl: string;
}

export interface ConsoleStorage {
  name: string;
  type: string;
  /** Settings without secrets. */
  settings: Record<string, unknown>;
}

export interface ConsoleOverview {
  databases: ConsoleDatabase[];
  storages: ConsoleStorage[];
  backups: ConsoleBackup[];
  temporalUiUrl: string;
  generatedAt: string;
}

/** A notifier as the console shows it: where it sends (no secrets), what it hears of, and how it fares. */
export interface ConsoleNotifier {
  name: string;
  type: string;
  summary: string;
  events: string[];
  databases: string[];
  health: 'ok' | 'failing' | 'unused';
  consecutiveFailures: number;
  lastError: string | null;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
}

export interface ConsoleDelivery {
  id: number;
  notifier: string;
  event: string;
  database: string | null;
  message: string;
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  lastError: string | null;
  at: string;
}

export interface ConsoleNotifiers {
  notifiers: ConsoleNotifier[];
  deliveries: ConsoleDelivery[];
  temporalUiUrl: string;
  generatedAt: string;
}

export interface ConsoleServices {
  overview(): Promise<ConsoleOverview>;
  /** Starts a backup workflow now; resolves with its backup id and workflow id. */
  startBackup(database: string): Promise<{ backupId: string; workflowId: string }>;
  /** Asks the database's verifier to restore its newest backup into a throwaway server and check it. */
  requestVerification(database: string): Promise<{ verificationId: string; backupId: string }>;
  /** Notifiers with their health and the recent deliveries. */
  notifiers(): Promise<ConsoleNotifiers>;
  /** Sends a test message now; the receiver's error comes back as it said it. */
  testNotifier(name: string): Promise<{ ok: boolean; detail: string; elapsedMs: number }>;
}

/** The key under which the express server publishes the services to the SvelteKit handler. */
export const CONSOLE_SERVICES_KEY = '__hindsightConsoleServices';
