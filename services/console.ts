import type { BackupRecord, DatabaseRecord } from '../lib/catalog/catalog.ts';
import type { VerificationSummary } from '../lib/verify/report.ts';
import { workflowUrl } from '../temporal/client.ts';
import { DEFAULT_WORKSPACE_ID, type Role } from '../lib/catalog/access.ts';
import { HindsightError } from '../lib/errors.ts';
import { createAccessService, type AccessService, type LoginPolicy } from './access.ts';
import { createActorOperations, type ActorOperations } from './actor-operations.ts';
import { actorLabel, createAuthz, roleAllows, type Action, type Actor, type Authz } from './authz.ts';
import type { ActorRef, ConsoleBackup, ConsoleDatabase, ConsoleServices } from './console-view.ts';
import type { Operations } from './operations.ts';
import type { Runtime } from './runtime.ts';
import { createConsoleHookServices } from './console-hooks.ts';
import { createNotifierOperations } from './notifiers.ts';
import { createActorNotifiers } from './actor-notifiers.ts';
import { createApiServices, type ApiServices } from './api-services.ts';
import { createConsoleSettings } from './console-settings.ts';
import { createDatabaseStatusService } from './database-status.ts';
import { createConsoleSetupServices } from './console-restore.ts';
import { createConsoleDatabaseServices } from './console-database.ts';

export const SESSION_COOKIE = 'hindsight_session';

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
    warnings: b.warnings.map((w) => w.message),
    restore: b.lastRestore
      ? { status: b.lastRestore.status, finishedAt: iso(b.lastRestore.finishedAt), tablesChecked: b.lastRestore.tablesChecked, rowsChecked: b.lastRestore.rowsChecked, error: b.lastRestore.error }
      : null,
    verification: toConsoleVerification(verification),
    workflowUrl: workflowUrl(uiUrl, namespace, b.workflowId),
  };
}

function toConsoleDatabase(d: DatabaseRecord, backups: BackupRecord[], may: (action: Action) => boolean): ConsoleDatabase {
  const mine = backups.filter((b) => b.databaseName === d.name);
  const lastComplete = mine.find((b) => b.status === 'complete' || b.status === 'partial');
  return {
    name: d.name, host: d.host, port: d.port, dbname: d.dbname, username: d.username, storageNames: d.storageNames,
    schedule: d.schedule, timezone: d.timezone, lastCompleteBackupAt: iso(lastComplete?.finishedAt ?? null), backupCount: mine.length,
    allowed: { backup: may('backup.start'), verify: may('verification.start') },
  };
}

/** What the express host needs beyond the pages' view: sessions, and the service layer per actor. */
export interface HostServices extends ConsoleServices {
  access: AccessService;
  authz: Authz;
  operationsFor(actor: Actor): ActorOperations;
  /** Personal API tokens, notifiers, PITR status and restore progress for /api/v1. */
  api: ApiServices;
}

const asActor = (ref: ActorRef): Actor => ref as Actor;

/** The console's view of the service layer: plain data, no secrets, always on behalf of an actor. */
export function createConsoleServices(runtime: Runtime, operations: Operations, options: { loginPolicy?: LoginPolicy } = {}): HostServices {
  const { config } = runtime;
  const authz = createAuthz(runtime.catalog.access);
  const access = createAccessService(runtime, authz, options.loginPolicy);
  const operationsFor = (actor: Actor) => createActorOperations({ runtime, ops: operations, authz }, actor);
  const secureCookie = (config.publicUrlSetting ?? '').startsWith('https:');
  const notifierOps = createNotifierOperations(runtime);
  const notifiersFor = (actor: Actor) => createActorNotifiers({ runtime, notifiers: notifierOps, authz }, actor);
  const api = createApiServices(runtime, operations, authz, access);
  return {
    api,
    settings: createConsoleSettings(runtime, api.tokens),
    hooks: createConsoleHookServices((ref) => operationsFor(asActor(ref)), async (database) => (await runtime.catalog.access.databaseWorkspace(database)) ?? DEFAULT_WORKSPACE_ID),
    database: createConsoleDatabaseServices({ runtime, operationsFor, can: authz.can, toBackup: (b, v) => toConsoleBackup(b, config.temporalUiUrl, config.temporalNamespace, v) }),
    access,
    authz,
    operationsFor,
    databaseStatus: (ref) => createDatabaseStatusService({ catalog: runtime.catalog, authz }).forActor(asActor(ref)),
    setup: createConsoleSetupServices({ runtime, temporal: operations.temporal, authz, access, operationsFor, notifiersFor }),
    async overview(ref) {
      const actor = asActor(ref);
      const ops = operationsFor(actor);
      const workspaces = await authz.workspacesAllowing(actor, 'history.read');
      const [databases, backups, storages] = await Promise.all([ops.listDatabases(), runtime.catalog.listBackups(undefined, 500, workspaces), ops.listStorages()]);
      const visible = new Set(databases.map((d) => d.name));
      const mine = backups.filter((b) => visible.has(b.databaseName));
      const verifications = await runtime.catalog.verifications.newestFor(mine.map((b) => b.id));
      return {
        databases: databases.map((d) => toConsoleDatabase(d, mine, (action) => authz.can(actor, d.workspaceId, action))),
        storages: storages.map((st) => ({ name: st.name, type: st.type, settings: st.settings })),
        backups: mine.map((b) => toConsoleBackup(b, config.temporalUiUrl, config.temporalNamespace, verifications.get(b.id))),
        temporalUiUrl: config.temporalUiUrl,
        generatedAt: new Date().toISOString(),
      };
    },
    async requestVerification(ref, database) {
      const requested = await operationsFor(asActor(ref)).requestVerification(database);
      return { verificationId: requested.verificationId, backupId: requested.backupId };
    },
    async notifiers(ref) {
      const ops = notifiersFor(asActor(ref));
      const [list, deliveries] = await Promise.all([ops.listNotifiers(), ops.deliveries({ limit: 50 })]);
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
    async testNotifier(ref, name) {
      const result = await notifiersFor(asActor(ref)).testNotifier(name);
      return { ok: result.ok, detail: result.detail, elapsedMs: result.elapsedMs };
    },
    async startBackup(ref, database) {
      const started = await operationsFor(asActor(ref)).startBackup(database, 'manual');
      return { workflowId: started.workflowId, backupId: started.backupId };
    },
    async whoami(ref) {
      const actor = asActor(ref);
      if (actor.kind !== 'user') return { email: actorLabel(actor), memberships: [], canManageUsers: true, canReadAudit: true, canCreateWorkspaces: true };
      const memberships = (await runtime.catalog.access.membershipsOfUser(actor.userId)).map((m) => ({ workspace: m.workspace, role: m.role }));
      const roles = [...actor.memberships.values()];
      return {
        email: actor.email,
        memberships,
        canManageUsers: roles.some((r) => roleAllows(r, 'user.manage')),
        canReadAudit: roles.some((r) => roleAllows(r, 'audit.read')),
        canCreateWorkspaces: authz.can(actor, DEFAULT_WORKSPACE_ID, 'workspace.manage'),
      };
    },
    auth: {
      needsSetup: () => access.needsSetup(),
      async createFirstOwner(input, ip) {
        await access.createFirstOwner(input, ip);
      },
      async login(input) {
        const { token, expiresAt } = await access.login(input);
        return { token, expiresAt };
      },
      logout: (token, ref) => access.logout(token, ref ? asActor(ref) : undefined),
      session: async (token, ip) => (await access.sessionActor(token, ip)) ?? null,
      cookie: { name: SESSION_COOKIE, secure: secureCookie },
    },
    people: {
      async listUsers(ref) {
        return (await access.listUsers(asActor(ref))).map((u) => ({
          email: u.email, displayName: u.displayName, disabled: u.disabled, createdAt: u.createdAt.toISOString(),
          memberships: u.memberships.map((m) => ({ workspace: m.workspace, role: m.role })),
        }));
      },
      async createUser(ref, input) {
        await access.createUser(asActor(ref), { ...input, role: input.role as Role });
      },
      async setUserDisabled(ref, email, disabled) {
        await access.setUserDisabled(asActor(ref), email, disabled);
      },
      setMember: (ref, email, workspace, role) => access.setMember(asActor(ref), email, workspace, role),
      removeMember: (ref, email, workspace) => access.removeMember(asActor(ref), email, workspace),
      async listWorkspaces(ref) {
        return (await access.listWorkspaces(asActor(ref))).map(({ id: _id, ...w }) => w);
      },
      async createWorkspace(ref, name) {
        await access.createWorkspace(asActor(ref), name);
      },
      async listAudit(ref, query) {
        const since = query.since ? new Date(query.since) : undefined;
        if (since && Number.isNaN(since.getTime())) throw new HindsightError('bad_input', `since: "${query.since}" is not a date (use e.g. 2026-11-23 or 2026-11-23T10:00:00Z)`);
        const entries = await access.listAudit(asActor(ref), { workspace: query.workspace || undefined, actor: query.actor || undefined, action: query.action || undefined, since, limit: 500 });
        return entries.map((e) => ({
          id: e.id, at: e.at.toISOString(), actor: e.actor, workspace: e.workspace, action: e.action,
          target: e.targetType ? `${e.targetType} ${e.targetName ?? ''}`.trim() : null, source: e.source, outcome: e.outcome,
          before: e.before, after: e.after, detail: e.detail,
        }));
      },
    },
  };
}
