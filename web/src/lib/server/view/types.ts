import type { Actor } from '../../../../../services/authz.ts';
import type { WorkspaceEncryptionView } from '../../../../../services/access/workspace-encryption.ts';
import type { WorkspaceEncryptionSetting } from '../../../../../services/databases/input.ts';

export type {
  DatabaseStatus,
  DatabaseStatusReport,
  StatusProblem,
} from '../../../../../services/status/database-status.ts';

/**
 * What the console shows, as plain data. The express server builds an implementation from the
 * service layer and hands it to SvelteKit (see ../services.ts); pages never touch the catalog,
 * the secret key or Temporal directly.
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
  /** Which buttons the viewer's role earns here; the services authorize every action again. */
  allowed: { backup: boolean; verify: boolean };
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
  /** Problems that left the backup usable, e.g. a post_backup hook that failed. */
  warnings: string[];
  /** The newest restore of this backup: 'verified' means every table's row count matched. */
  restore: {
    status: 'running' | 'verified' | 'failed';
    finishedAt: string | null;
    tablesChecked: number | null;
    rowsChecked: number | null;
    error: string | null;
  } | null;
  /** The newest verification in a throwaway server: exact per-table counts against the manifest. */
  verification: {
    id: string;
    status: 'pending' | 'running' | 'successful' | 'failed' | 'superseded' | 'cancelled' | 'skipped';
    reason: string | null;
    finishedAt: string | null;
    tables: number | null;
    rows: number | null;
    mismatches: number;
  } | null;
  /** Link to the backup's workflow in the Temporal UI; null when the viewer may not open the UI. */
  workflowUrl: string | null;
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

/**
 * Who a request acts as: the express host resolves the session cookie and hands the actor to the
 * pages through `locals`; pages pass it back unopened to the services.
 */
export type ActorRef = Actor;

export type ConsoleRole = 'owner' | 'admin' | 'editor' | 'viewer';

/** The signed-in user as pages show them, with what the navigation may offer. */
export interface ConsoleUser {
  email: string;
  memberships: { workspace: string; role: ConsoleRole }[];
  canManageUsers: boolean;
  canReadAudit: boolean;
  canCreateWorkspaces: boolean;
  /** The header's "Temporal UI" link, or null when this user may not see it (view/temporal-ui.ts). */
  temporalUiUrl: string | null;
}

export interface ConsoleUserRow {
  email: string;
  displayName: string;
  disabled: boolean;
  createdAt: string;
  memberships: { workspace: string; role: ConsoleRole }[];
}

export interface ConsoleWorkspace {
  name: string;
  role: ConsoleRole;
  members: number;
  databases: number;
  storages: number;
}

export interface ConsoleAuditEntry {
  id: number;
  at: string;
  actor: string;
  workspace: string | null;
  action: string;
  target: string | null;
  source: string | null;
  outcome: 'ok' | 'denied' | 'failed';
  before: unknown;
  after: unknown;
  detail: string | null;
}

export interface ConsoleAuditQuery {
  workspace?: string;
  actor?: string;
  action?: string;
  since?: string;
}

export interface ConsoleAuth {
  /** True until the first account exists: the console then offers owner creation only. */
  needsSetup(): Promise<boolean>;
  /** Needs a live setup token (docs/authentication.md#the-setup-token), which it uses up. */
  createFirstOwner(
    input: { email: string; password: string; displayName?: string; setupToken: string },
    ip: string,
  ): Promise<void>;
  /** A new one-time token for /setup (printed at start), or undefined once an account exists. */
  issueSetupToken(): Promise<string | undefined>;
  /** The email a password reset link is for, or undefined when it is wrong, used or expired. */
  passwordResetEmail(token: string): Promise<string | undefined>;
  /** Uses a reset link: sets the password and ends the account's sessions. */
  resetPassword(input: { token: string; password: string }, ip: string): Promise<void>;
  /** HINDSIGHT_PUBLIC_URL as set: /setup answers only on its host or on loopback. */
  publicUrl: string | undefined;
  /**
   * Opens a session, or for an account with a second factor returns the pending second step;
   * throws with kind `access_denied` (wrong credentials) or `rate_limited` (locked).
   */
  login(input: {
    email: string;
    password: string;
    ip: string;
    userAgent: string | null;
  }): Promise<{ token: string; expiresAt: Date } | { secondFactor: { token: string; expiresAt: Date } }>;
  logout(token: string, actor?: ActorRef): Promise<void>;
  /** The session's actor as it stands now (memberships re-read), or null once it ended or its user was disabled. */
  session(token: string, ip: string): Promise<ActorRef | null>;
  cookie: { name: string; secure: boolean };
}

export interface ConsolePeople {
  listUsers(actor: ActorRef): Promise<ConsoleUserRow[]>;
  setUserDisabled(actor: ActorRef, email: string, disabled: boolean): Promise<void>;
  setMember(actor: ActorRef, email: string, workspace: string, role: string): Promise<void>;
  removeMember(actor: ActorRef, email: string, workspace: string): Promise<void>;
  listWorkspaces(actor: ActorRef): Promise<ConsoleWorkspace[]>;
  createWorkspace(actor: ActorRef, name: string): Promise<void>;
  /** Its default encryption, and each database's effective encryption with who can decrypt it. */
  workspaceEncryption(actor: ActorRef, workspace: string): Promise<WorkspaceEncryptionView>;
  setWorkspaceEncryption(actor: ActorRef, workspace: string, setting: WorkspaceEncryptionSetting): Promise<void>;
  listAudit(actor: ActorRef, query: ConsoleAuditQuery): Promise<ConsoleAuditEntry[]>;
  /** The signed-in user's own password (the current one required); other sessions than `keepSession` end. */
  changeOwnPassword(
    actor: ActorRef,
    input: { current: string; next: string },
    keepSession: string | null,
  ): Promise<void>;
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

/** The key under which the express server publishes the services to the SvelteKit handler. */
export const CONSOLE_SERVICES_KEY = '__hindsightConsoleServices';
