/**
 * What the console's restore wizard, storages page, "add database" page and notifier form need,
 * as plain data and actions on behalf of the signed-in user. Every call goes through the domain
 * services, so authorization and the audit log are the same as from the CLI and /api/v1. Secrets
 * are taken in and never handed back.
 */
import type { ConnectionCheck } from '../../../../../services/databases/check.ts';
import type { RestoreStatus } from '../../../../../services/restores/status.ts';
import type { ActorRef } from './types.ts';

export interface ConsoleRestorableBackup {
  id: string;
  status: 'complete' | 'partial';
  finishedAt: string | null;
  startedAt: string;
  sizeBytes: number | null;
  tables: number | null;
  rows: number | null;
  storages: string[];
  verification: 'successful' | 'failed' | 'running' | 'pending' | 'none';
}

export interface ConsoleRecoveryWindow {
  from: string;
  to: string;
  timeline: number;
  baseBackupId: string;
  text: string;
  /** False when `to` is only when the newest WAL reached storage (lib/pitr/window-end.ts). */
  endExact: boolean;
  /** For an approximate end: "up to about …, exact after the next check: <why>". */
  endNote: string | null;
}

export interface ConsoleRestoreWizard {
  databases: Array<{ name: string; host: string; port: number; dbname: string; pitr: boolean }>;
  /** Set once a database is chosen (and visible to the actor). */
  database: null | {
    name: string;
    host: string;
    port: number;
    dbname: string;
    backups: ConsoleRestorableBackup[];
    pitr: null | {
      windows: ConsoleRecoveryWindow[];
      gaps: Array<{ text: string; timeline: number }>;
      checkedAt: string;
      error: string | null;
    };
  };
  /** Whether the actor may restore roles with SUPERUSER, REPLICATION or BYPASSRLS: the instance owner only. */
  canRestorePrivilegedRoles: boolean;
  temporalUiUrl: string;
}

export type RestoreTargetChoice =
  | { kind: 'new'; name: string }
  | { kind: 'url'; url: string; withOwners?: boolean; privilegedRoles?: boolean }
  | { kind: 'directory'; directory: string; agent?: string; thenStop?: boolean }
  | { kind: 'sandbox' };

export interface RestoreStartInput {
  database: string;
  /** What the user typed to confirm: must equal the database's name. */
  confirm: string;
  source:
    { kind: 'backup'; backupId: string } | { kind: 'pitr'; time: string; timezone: string } | { kind: 'pitr-latest' };
  to: RestoreTargetChoice;
}

/** A restore as the console follows it (services/restores/status.ts reads it from Temporal). */
export type ConsoleRestoreStatus = Omit<RestoreStatus, 'workflowUrl'> & {
  /** Its run in the Temporal UI; null when the viewer may not open the UI (view/temporal-ui.ts). */
  workflowUrl: string | null;
};

export interface ConsoleStorageRow {
  name: string;
  type: string;
  settings: Record<string, unknown>;
  hasSecrets: boolean;
  workspace: string;
  usedBy: string[];
  /** What the actor's role in its workspace allows: the page offers only those buttons. */
  canUpdate: boolean;
  canDelete: boolean;
}

export interface ConsoleStoragesView {
  storages: ConsoleStorageRow[];
  /** localRoot: where this user's local storages must lie (null: anywhere, for the instance owner). */
  workspaces: Array<{ id: number; name: string; canCreate: boolean; localRoot: string | null }>;
  temporalUiUrl: string;
}

/** A saved storage as its edit form shows it: settings without secrets, and which secrets are stored. */
export interface ConsoleStorageForm {
  name: string;
  type: string;
  workspace: string;
  settings: Record<string, unknown>;
  /** The secret fields the catalog holds, by name only: their inputs stay blank and blank keeps them. */
  secretsSet: string[];
  /** Complete backup copies it holds: while there are any, its location fields cannot change. */
  copies: number;
  /** The settings that say where its objects are; fixed while `copies` > 0. */
  locked: string[];
  usedBy: string[];
  canUpdate: boolean;
  temporalUiUrl: string;
}

export type { ConnectionCheck };

export interface ConsoleNewDatabaseView {
  storages: Array<{ name: string; type: string; workspace: string; workspaceId: number }>;
  workspaces: Array<{ id: number; name: string }>;
  temporalUiUrl: string;
}

export interface ConsoleNotifierForm {
  name: string;
  type: string;
  /** Non-secret settings only; secret fields appear in `secretsSet` by name. */
  settings: Record<string, unknown>;
  secretsSet: string[];
  events: string[];
  databases: string[];
}

export interface ConsoleNotifierChoices {
  types: string[];
  events: string[];
  databases: string[];
  workspaces: Array<{ id: number; name: string }>;
}

export interface ConsoleSetupServices {
  restoreWizard(actor: ActorRef, database?: string): Promise<ConsoleRestoreWizard>;
  restoreStatus(actor: ActorRef, workflowId: string): Promise<ConsoleRestoreStatus>;

  storages(actor: ActorRef): Promise<ConsoleStoragesView>;
  /** Runs the write/read/delete test on a configuration without saving it. */
  testStorageConfig(
    actor: ActorRef,
    name: string,
    raw: unknown,
    workspaceId?: number,
  ): Promise<ConnectionCheck & { stage?: string }>;
  saveStorage(
    actor: ActorRef,
    name: string,
    raw: unknown,
    options: { skipCheck: boolean; workspaceId?: number },
  ): Promise<void>;
  testStorage(actor: ActorRef, name: string): Promise<ConnectionCheck & { stage?: string }>;
  removeStorage(actor: ActorRef, name: string): Promise<void>;
  storageForm(actor: ActorRef, name: string): Promise<ConsoleStorageForm>;
  /** Merges the change over the stored settings (secrets not named are kept) after a connection test. */
  updateStorage(actor: ActorRef, name: string, change: Record<string, unknown>): Promise<void>;

  newDatabase(actor: ActorRef): Promise<ConsoleNewDatabaseView>;
  /** Connects as `hindsight db add` would (server version, size) without saving anything. */
  testDatabaseUrl(actor: ActorRef, url: string, workspaceId?: number): Promise<ConnectionCheck>;
  /** Connects to a registered database with its stored credentials, as a backup would. */
  testDatabase(actor: ActorRef, database: string): Promise<ConnectionCheck>;
  addDatabase(
    actor: ActorRef,
    input: {
      name: string;
      url: string;
      storages: string[];
      schedule: string | null;
      timezone: string;
      workspaceId: number;
    },
  ): Promise<{ name: string; adopted: { count: number; storages: string[] } }>;

  notifierChoices(actor: ActorRef): Promise<ConsoleNotifierChoices>;
  notifierForm(actor: ActorRef, name: string): Promise<ConsoleNotifierForm>;
  /** Creates or changes a notifier; a secret field left blank keeps its stored value. */
  saveNotifier(
    actor: ActorRef,
    input: {
      name: string;
      type: string;
      fields: Record<string, string>;
      events: string[];
      databases: string[];
      workspaceId?: number;
    },
  ): Promise<void>;
  removeNotifier(actor: ActorRef, name: string): Promise<void>;
}

/** The names of the workspaces the actor may read, by id: the setup pages show names, the catalog keeps ids. */
export type WorkspaceNames = (actor: ActorRef) => Promise<Map<number, string>>;
