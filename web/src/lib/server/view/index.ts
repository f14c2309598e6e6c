/**
 * The console's services as the express host publishes them to SvelteKit: the domain services
 * (services/index.ts) for actions, and the view models of each page, built here next to the
 * console. Plain data, no secrets, always on behalf of an actor.
 */
import { DEFAULT_WORKSPACE_ID } from '../../../../../lib/catalog/access.ts';
import {
  createAccessService,
  defaultLoginPolicy,
  type AccessService,
  type LoginPolicy,
} from '../../../../../services/access.ts';
import { createApiTokenService, type ApiTokenService } from '../../../../../services/api-tokens.ts';
import { actorLabel, roleAllows, type Authz } from '../../../../../services/authz.ts';
import type { Services } from '../../../../../services/index.ts';
import { toConsoleBackup, toConsoleDatabase, workflowLinkBase } from './backups.ts';
import { createConsoleDatabaseServices } from './database.ts';
import { createConsoleDatabaseSettings } from './database-settings.ts';
import { createConsoleHookServices } from './hooks.ts';
import { peopleServices } from './people.ts';
import { createConsolePitrServices } from './pitr.ts';
import { consolePitrProofs, consoleServers } from './servers.ts';
import { createConsoleSettings } from './settings.ts';
import { createConsoleSetupServices } from './setup.ts';
import { createConsoleSso } from './sso.ts';
import { temporalUiLink } from './temporal-ui.ts';
import type { ConsoleServices } from './console-services.ts';
import type { ActorRef, ConsoleAuth, ConsoleNotifiers, ConsoleOverview, ConsoleUser } from './types.ts';

export const SESSION_COOKIE = 'hindsight_session';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** What the express host needs beyond the pages' view: sessions, tokens and the domain services for /api/v1. */
export interface HostServices extends ConsoleServices {
  access: AccessService;
  authz: Authz;
  /** The domain services, which /api/v1 calls as the pages do. */
  domain: Services;
  /** Personal API tokens (also the bearer check). */
  tokens: ApiTokenService;
}

async function overview(services: Services, actor: ActorRef): Promise<ConsoleOverview> {
  const { config, catalog } = services.ctx.runtime;
  const { guard } = services.ctx;
  const workspaces = await guard.authz.workspacesAllowing(actor, 'history.read');
  const [databases, backups, storages, uiUrl] = await Promise.all([
    services.databases.list(actor),
    catalog.listBackups(undefined, 500, workspaces),
    services.storages.list(actor),
    workflowLinkBase(services, actor),
  ]);
  const visible = new Set(databases.map((d) => d.name));
  const mine = backups.filter((b) => visible.has(b.databaseName));
  const verifications = await catalog.verifications.newestFor(mine.map((b) => b.id));
  return {
    databases: databases.map((d) => toConsoleDatabase(d, mine, (action) => guard.can(actor, d.workspaceId, action))),
    storages: storages.map((st) => ({ name: st.name, type: st.type, settings: st.settings })),
    backups: mine.map((b) => toConsoleBackup(b, uiUrl, config.temporalNamespace, verifications.get(b.id))),
    temporalUiUrl: config.temporalUiUrl,
    generatedAt: new Date().toISOString(),
  };
}

async function notifiers(services: Services, actor: ActorRef): Promise<ConsoleNotifiers> {
  const [list, deliveries] = await Promise.all([
    services.notifiers.list(actor),
    services.notifiers.deliveries(actor, { limit: 50 }),
  ]);
  return {
    notifiers: list.map((n) => ({
      name: n.name,
      type: n.type,
      summary: n.summary,
      events: n.events,
      databases: n.databases,
      health:
        n.consecutiveFailures > 0 ? ('failing' as const) : n.lastSuccessAt ? ('ok' as const) : ('unused' as const),
      consecutiveFailures: n.consecutiveFailures,
      lastError: n.lastError,
      lastSuccessAt: iso(n.lastSuccessAt),
      lastFailureAt: iso(n.lastFailureAt),
    })),
    deliveries: deliveries.map((d) => ({
      id: d.id,
      notifier: d.notifierName,
      event: d.event,
      database: d.database,
      message: d.message,
      status: d.status,
      attempts: d.attempts,
      lastError: d.status === 'sent' ? null : d.lastError,
      at: d.createdAt.toISOString(),
    })),
    temporalUiUrl: services.ctx.runtime.config.temporalUiUrl,
    generatedAt: new Date().toISOString(),
  };
}

async function whoami(services: Services, actor: ActorRef): Promise<ConsoleUser> {
  if (actor.kind !== 'user')
    return {
      email: actorLabel(actor),
      memberships: [],
      canManageUsers: true,
      canReadAudit: true,
      canCreateWorkspaces: true,
      temporalUiUrl: await temporalUiLink(services, actor),
    };
  const memberships = (await services.ctx.runtime.catalog.access.membershipsOfUser(actor.userId)).map((m) => ({
    workspace: m.workspace,
    role: m.role,
  }));
  const roles = [...actor.memberships.values()];
  return {
    email: actor.email,
    memberships,
    canManageUsers: roles.some((r) => roleAllows(r, 'user.manage')),
    canReadAudit: roles.some((r) => roleAllows(r, 'audit.read')),
    canCreateWorkspaces: services.ctx.guard.can(actor, DEFAULT_WORKSPACE_ID, 'workspace.manage'),
    temporalUiUrl: await temporalUiLink(services, actor),
  };
}

function auth(access: AccessService, publicUrl: string | undefined): ConsoleAuth {
  return {
    needsSetup: () => access.needsSetup(),
    async createFirstOwner(input, ip) {
      await access.createFirstOwner({ ...input, setupToken: String(input.setupToken ?? '') }, ip);
    },
    issueSetupToken: () => access.issueSetupToken(),
    passwordResetEmail: (token) => access.passwordResetEmail(token),
    resetPassword: (input, ip) => access.resetPassword(input, ip),
    publicUrl,
    async login(input) {
      const result = await access.login(input);
      if ('secondFactor' in result) return { secondFactor: result.secondFactor };
      return { token: result.token, expiresAt: result.expiresAt };
    },
    logout: (token, actor) => access.logout(token, actor),
    session: async (token, ip) => (await access.sessionActor(token, ip)) ?? null,
    cookie: { name: SESSION_COOKIE, secure: (publicUrl ?? '').startsWith('https:') },
  };
}

/** The console's view of the service layer, and what the express host and /api/v1 need beside it. */
export function createConsoleServices(services: Services, options: { loginPolicy?: LoginPolicy } = {}): HostServices {
  const { runtime, guard } = services.ctx;
  const { config } = runtime;
  const policy = options.loginPolicy ?? { ...defaultLoginPolicy, sessionMaxMs: config.sessionMaxHours * 3600_000 };
  const access = createAccessService(runtime, guard.authz, policy);
  const tokens = createApiTokenService(runtime, guard.authz, access);
  const workspaceOf = async (database: string) =>
    (await runtime.catalog.access.databaseWorkspace(database)) ?? DEFAULT_WORKSPACE_ID;
  return {
    domain: services,
    access,
    authz: guard.authz,
    tokens,
    backups: services.backups,
    backupReads: services.backupReads,
    verifications: services.verifications,
    restores: services.restores,
    settings: createConsoleSettings(runtime, tokens),
    hooks: createConsoleHookServices(services, workspaceOf),
    database: createConsoleDatabaseServices(services, (b, uiUrl, v) =>
      toConsoleBackup(b, uiUrl, config.temporalNamespace, v),
    ),
    databaseSettings: createConsoleDatabaseSettings(services),
    databaseStatus: (actor) => services.status.databases(actor),
    pitr: createConsolePitrServices(services),
    setup: createConsoleSetupServices(services, access),
    overview: (actor) => overview(services, actor),
    notifiers: (actor) => notifiers(services, actor),
    async testNotifier(actor, name) {
      const result = await services.notifiers.test(actor, name);
      return { ok: result.ok, detail: result.detail, elapsedMs: result.elapsedMs };
    },
    whoami: (actor) => whoami(services, actor),
    auth: auth(access, config.publicUrlSetting),
    people: peopleServices(access),
    secondFactors: access,
    sso: createConsoleSso(access, config.publicUrlSetting),
    servers: (actor) => consoleServers(services, actor),
    pitrProofs: (actor) => consolePitrProofs(services, actor),
  };
}
