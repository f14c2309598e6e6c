/**
 * What the console's restore wizard, storages page, "add database" page and notifier form need,
 * as plain data and actions on behalf of the signed-in user. Every call goes through the
 * actor-scoped services (actor-operations, actor-pitr, actor-notifiers), so authorization and the
 * audit log are the same as from the CLI and /api/v1. Secrets are taken in and never handed back.
 */
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { loadChain, chainView } from '../lib/pitr/chain-source.ts';
import { HindsightError, errorMessage } from '../lib/errors.ts';
import { connect, parsePgUrl, serverInfo, type PgTarget } from '../lib/pg/connection.ts';
import { createStorageDriver, storageConfigSchema } from '../lib/storage/index.ts';
import { testStorageConnection } from '../lib/storage/connection-test.ts';
import { notificationEvents, notifierConfigSchema, notifierTypes, type NotifierConfig } from '../lib/notify/config.ts';
import { DEFAULT_WORKSPACE_ID } from '../lib/catalog/access.ts';
import { workflowUrl } from '../temporal/client.ts';
import {
  pitrProgressQuery, pitrRestoreInput, pitrRestoreWorkflow, pitrRestoreWorkflowId, type PitrOutcome, type PitrRestoreInput,
} from '../temporal/contracts/pitr.ts';
import {
  databaseOfRestoreId, restoreBackupWorkflow, restoreProgressQuery, type RestoreOutcome,
} from '../temporal/contracts/restore.ts';
import { startJob } from '../temporal/start.ts';
import { NAME_PATTERN } from '../lib/names.ts';
import type { AccessService } from './access.ts';
import type { ActorOperations } from './actor-operations.ts';
import type { ActorNotifiers } from './actor-notifiers.ts';
import { createActorPitr } from './actor-pitr.ts';
import { isInstanceLevel, type Actor, type Authz } from './authz.ts';
import { workspaceStorageRoot } from '../lib/storage/local/root.ts';
import type { ActorRef } from './console-view.ts';
import { createPitrOperations } from './pitr.ts';
import type { Runtime } from './runtime.ts';
import { zonedToRfc3339 } from './zoned-time.ts';

// ---- views

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

export interface ConsoleRecoveryWindow { from: string; to: string; timeline: number; baseBackupId: string; text: string }

export interface ConsoleRestoreWizard {
  databases: Array<{ name: string; host: string; port: number; dbname: string; pitr: boolean }>;
  /** Set once a database is chosen (and visible to the actor). */
  database: null | {
    name: string;
    host: string;
    port: number;
    dbname: string;
    backups: ConsoleRestorableBackup[];
    pitr: null | { windows: ConsoleRecoveryWindow[]; gaps: Array<{ text: string; timeline: number }>; checkedAt: string; error: string | null };
  };
  temporalUiUrl: string;
}

export type RestoreTargetChoice =
  | { kind: 'new'; name: string }
  | { kind: 'url'; url: string }
  | { kind: 'directory'; directory: string; agent?: string }
  | { kind: 'sandbox' };

export interface RestoreStartInput {
  database: string;
  /** What the user typed to confirm: must equal the database's name. */
  confirm: string;
  source: { kind: 'backup'; backupId: string } | { kind: 'pitr'; time: string; timezone: string } | { kind: 'pitr-latest' };
  to: RestoreTargetChoice;
}

export interface ConsoleRestoreStatus {
  workflowId: string;
  database: string;
  kind: 'logical' | 'pitr';
  /** Temporal's state of the workflow. */
  state: 'running' | 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed_out' | 'unknown';
  stage: string;
  startedAt: string | null;
  closedAt: string | null;
  /** totalBytes: the stored object's size, which readBytes grows towards. */
  logical: null | { backupId: string | null; readBytes: number; restoredBytes: number; totalBytes: number | null };
  pitr: null | { baseBackupId: string | null; window: string | null; extractedBytes: number; segmentsFetched: number; replayLsn: string | null };
  error: string | null;
  /** Set once the restore finished and its check passed. */
  verified: null | {
    backupId: string | null;
    target: string;
    tablesChecked: number | null;
    rowsChecked: number | null;
    storageName: string | null;
    warnings: string[];
    /** The dump snapshot's per-table counts, which the restored tables were compared with (logical restores). */
    tables: Array<{ schema: string; table: string; rows: number }>;
    pitr: null | { reachedLsn: string; lastTransactionTime: string | null; newTimeline: number; dataDirectory: string | null; port: number | null; kept: boolean; note: string | null };
  };
  workflowUrl: string;
  temporalUiUrl: string;
}

export interface ConsoleStorageRow {
  name: string;
  type: string;
  settings: Record<string, unknown>;
  hasSecrets: boolean;
  workspace: string;
  usedBy: string[];
}

export interface ConsoleStoragesView {
  storages: ConsoleStorageRow[];
  /** localRoot: where this user's local storages must lie (null: anywhere, for the instance owner). */
  workspaces: Array<{ id: number; name: string; canCreate: boolean; localRoot: string | null }>;
  temporalUiUrl: string;
}

export interface ConnectionCheck { ok: boolean; detail: string; elapsedMs: number; version?: string; sizeBytes?: number }

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
  startRestore(actor: ActorRef, input: RestoreStartInput): Promise<{ workflowId: string }>;
  restoreStatus(actor: ActorRef, workflowId: string): Promise<ConsoleRestoreStatus>;

  storages(actor: ActorRef): Promise<ConsoleStoragesView>;
  /** Runs the write/read/delete test on a configuration without saving it. */
  testStorageConfig(actor: ActorRef, name: string, raw: unknown, workspaceId?: number): Promise<ConnectionCheck & { stage?: string }>;
  saveStorage(actor: ActorRef, name: string, raw: unknown, options: { skipCheck: boolean; workspaceId?: number }): Promise<void>;
  testStorage(actor: ActorRef, name: string): Promise<ConnectionCheck & { stage?: string }>;
  removeStorage(actor: ActorRef, name: string): Promise<void>;

  newDatabase(actor: ActorRef): Promise<ConsoleNewDatabaseView>;
  /** Connects as `hindsight db add` would (server version, size) without saving anything. */
  testDatabaseUrl(actor: ActorRef, url: string, workspaceId?: number): Promise<ConnectionCheck>;
  /** Connects to a registered database with its stored credentials, as a backup would. */
  testDatabase(actor: ActorRef, database: string): Promise<ConnectionCheck>;
  addDatabase(actor: ActorRef, input: { name: string; url: string; storages: string[]; schedule: string | null; timezone: string; workspaceId: number }): Promise<{ name: string }>;

  notifierChoices(actor: ActorRef): Promise<ConsoleNotifierChoices>;
  notifierForm(actor: ActorRef, name: string): Promise<ConsoleNotifierForm>;
  /** Creates or changes a notifier; a secret field left blank keeps its stored value. */
  saveNotifier(actor: ActorRef, input: { name: string; type: string; fields: Record<string, string>; events: string[]; databases: string[]; workspaceId?: number }): Promise<void>;
  removeNotifier(actor: ActorRef, name: string): Promise<void>;
}

// ---- helpers

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

/** The new database's name: what `CREATE DATABASE` will get, so it must be a plain identifier. */
const newDatabaseName = z.string().trim().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'target database name must be lowercase letters, digits or "_" (at most 63), starting with a letter');

const stateOf = (name: string | undefined): ConsoleRestoreStatus['state'] => {
  switch (name) {
    case 'RUNNING': return 'running';
    case 'COMPLETED': return 'completed';
    case 'FAILED': return 'failed';
    case 'CANCELLED': return 'cancelled';
    case 'TERMINATED': return 'terminated';
    case 'TIMED_OUT': return 'timed_out';
    default: return 'unknown';
  }
};

/** The innermost message of a Temporal failure: the activity's own words, not "Activity task failed". */
function rootCause(error: unknown): string {
  let current = error as { cause?: unknown; message?: string } | undefined;
  let message = errorMessage(error);
  while (current && typeof current === 'object') {
    if (current.message) message = current.message;
    current = current.cause as typeof current;
  }
  return message;
}

/** Secret fields of each notifier type as the form names them (see lib/notify/config.ts). */
const NOTIFIER_SECRET_FIELDS: Record<string, string[]> = {
  email: ['authPass'], slack: ['url'], discord: ['url'], teams: ['url'], telegram: ['botToken'], webhook: ['url', 'headers', 'secret'],
};

/** Form fields (flat strings) → the notifier configuration lib/notify/config.ts validates. */
export function notifierConfigFromForm(type: string, f: Record<string, string>, stored: NotifierConfig | null): unknown {
  const text = (k: string) => (f[k] ?? '').trim();
  const opt = (k: string) => (text(k) === '' ? undefined : text(k));
  const keep = <T>(k: string, current: T | undefined): string | T | undefined => (text(k) === '' ? current : text(k));
  const same = stored && stored.type === type ? stored : null;
  switch (type) {
    case 'email': {
      const s = same as Extract<NotifierConfig, { type: 'email' }> | null;
      const user = opt('authUser');
      const pass = text('authPass') === '' ? s?.auth?.pass : text('authPass');
      return {
        type, host: text('host'), port: text('port') === '' ? undefined : Number(text('port')), secure: f.secure === 'on' || f.secure === 'true',
        starttls: opt('starttls'), from: text('from'),
        to: text('to').split(/[,\s]+/).filter(Boolean),
        ...(opt('ca') ? { ca: text('ca') } : {}),
        ...(user ? { auth: { user, pass } } : {}),
      };
    }
    case 'slack': case 'discord': case 'teams': {
      const s = same as { url: string } | null;
      return { type, url: keep('url', s?.url) };
    }
    case 'telegram': {
      const s = same as Extract<NotifierConfig, { type: 'telegram' }> | null;
      const chat = text('chatId');
      return {
        type, botToken: keep('botToken', s?.botToken), chatId: /^-?\d+$/.test(chat) ? Number(chat) : chat,
        ...(opt('messageThreadId') ? { messageThreadId: Number(text('messageThreadId')) } : {}),
        ...(opt('apiBaseUrl') ? { apiBaseUrl: text('apiBaseUrl') } : {}),
      };
    }
    case 'webhook': {
      const s = same as Extract<NotifierConfig, { type: 'webhook' }> | null;
      let headers: Record<string, string> | undefined = s?.headers;
      if (text('headers') !== '') {
        headers = {};
        for (const line of text('headers').split(/\r?\n/)) {
          if (line.trim() === '') continue;
          const at = line.indexOf(':');
          if (at <= 0) throw new HindsightError('bad_input', `headers: each line must be "Name: value" (got "${line.trim().slice(0, 40)}")`);
          headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
        }
      }
      return {
        type, url: keep('url', s?.url), method: opt('method'), ...(headers ? { headers } : {}),
        ...(opt('bodyTemplate') ? { bodyTemplate: text('bodyTemplate') } : {}),
        ...(keep('secret', s?.secret) !== undefined ? { secret: keep('secret', s?.secret) } : {}),
      };
    }
    default:
      throw new HindsightError('bad_input', `type must be one of ${notifierTypes.join(', ')}`);
  }
}

function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HindsightError('bad_input', `${what}: ${parsed.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ')}`);
  return parsed.data;
}

// ---- the factory

export interface ConsoleSetupDeps {
  runtime: Runtime;
  temporal: Client;
  authz: Authz;
  access: AccessService;
  operationsFor(actor: Actor): ActorOperations;
  notifiersFor(actor: Actor): ActorNotifiers;
}

export function createConsoleSetupServices(deps: ConsoleSetupDeps): ConsoleSetupServices {
  const { runtime, temporal, authz } = deps;
  const { catalog, config } = runtime;
  const asActor = (ref: ActorRef): Actor => ref as Actor;
  const pitrOps = createPitrOperations(runtime, temporal);
  const pitrFor = (actor: Actor) => createActorPitr({ runtime, pitr: pitrOps, authz }, actor);

  const workspaceNames = async (actor: Actor): Promise<Map<number, string>> =>
    new Map((await deps.access.listWorkspaces(actor)).map((w) => [w.id, w.name]));

  async function recoveryWindows(database: string) {
    try {
      const view = chainView(await loadChain(catalog, database), new Date());
      return {
        windows: view.windows.map((w) => ({ from: w.from.time, to: w.to.time, timeline: w.timeline, baseBackupId: w.baseBackupId, text: w.text })),
        gaps: view.gaps.map((g) => ({ text: g.text, timeline: g.timeline })),
        checkedAt: view.checkedAt,
        error: null,
      };
    } catch (error) {
      return { windows: [], gaps: [], checkedAt: new Date().toISOString(), error: errorMessage(error) };
    }
  }

  async function checkConnection(url: string): Promise<ConnectionCheck> {
    try {
      return await checkTarget(parsePgUrl(url));
    } catch (error) {
      return { ok: false, detail: errorMessage(error), elapsedMs: 0 };
    }
  }

  async function checkTarget(target: PgTarget): Promise<ConnectionCheck> {
    const started = Date.now();
    try {
      const client = await connect(target.database, target);
      try {
        const info = await serverInfo(client);
        return { ok: true, detail: `PostgreSQL ${info.version}`, version: info.version, sizeBytes: info.sizeBytes, elapsedMs: Date.now() - started };
      } finally {
        await client.end().catch(() => undefined);
      }
    } catch (error) {
      return { ok: false, detail: errorMessage(error), elapsedMs: Date.now() - started };
    }
  }

  async function testConfig(name: string, raw: unknown) {
    const parsed = parseOrThrow(storageConfigSchema, raw, `storage "${name}"`);
    const driver = createStorageDriver(name, parsed);
    try {
      return await testStorageConnection(driver);
    } finally {
      await driver.close?.().catch(() => undefined);
    }
  }

  const storageCheck = (result: Awaited<ReturnType<typeof testStorageConnection>>): ConnectionCheck & { stage?: string } =>
    result.ok ? { ok: true, detail: `wrote, read back and deleted a test object`, elapsedMs: result.elapsedMs }
      : { ok: false, detail: `failed at ${result.stage}: ${result.message}`, stage: result.stage, elapsedMs: result.elapsedMs };

  return {
    async restoreWizard(ref, database) {
      const actor = asActor(ref);
      const ops = deps.operationsFor(actor);
      const databases = await ops.listDatabases();
      const pitrFlags = await Promise.all(databases.map(async (d) => (await catalog.wal.config(d.name).catch(() => ({ enabled: false }))).enabled));
      const list = databases.map((d, i) => ({ name: d.name, host: d.host, port: d.port, dbname: d.dbname, pitr: pitrFlags[i] ?? false }));
      const chosen = database ? list.find((d) => d.name === database) : undefined;
      if (!chosen) return { databases: list, database: null, temporalUiUrl: config.temporalUiUrl };
      const backups = (await ops.listBackups(chosen.name)).filter((b) => b.status === 'complete' || b.status === 'partial');
      const verifications = await catalog.verifications.newestFor(backups.map((b) => b.id));
      return {
        databases: list,
        database: {
          name: chosen.name, host: chosen.host, port: chosen.port, dbname: chosen.dbname,
          backups: backups.map((b) => {
            const v = verifications.get(b.id);
            const verification: ConsoleRestorableBackup['verification'] = !v ? 'none' : v.status === 'successful' || v.status === 'failed' || v.status === 'running' || v.status === 'pending' ? v.status : 'none';
            return {
              id: b.id, status: b.status as 'complete' | 'partial', startedAt: b.startedAt.toISOString(), finishedAt: iso(b.finishedAt), sizeBytes: b.sizeBytes,
              tables: b.rowCounts ? b.rowCounts.length : null, rows: b.rowCounts ? b.rowCounts.reduce((s, t) => s + t.rows, 0) : null,
              storages: b.copies.filter((c) => c.status === 'complete').map((c) => c.storageName), verification,
            };
          }),
          pitr: chosen.pitr ? await recoveryWindows(chosen.name) : null,
        },
        temporalUiUrl: config.temporalUiUrl,
      };
    },

    async startRestore(ref, input) {
      const actor = asActor(ref);
      if (!NAME_PATTERN.test(input.database)) throw new HindsightError('bad_input', 'database: choose a registered database');
      const ops = deps.operationsFor(actor);
      await ops.getDatabase(input.database);
      // The server checks the typed name too: a form replayed without it must not restore anything.
      if (input.confirm.trim() !== input.database) {
        throw new HindsightError('bad_input', `confirmation: type the database's name "${input.database}" exactly to start the restore`);
      }
      if (input.source.kind === 'backup') {
        let to: { database: string } | { url: string };
        if (input.to.kind === 'new') to = { database: parseOrThrow(newDatabaseName, input.to.name, 'target') };
        else if (input.to.kind === 'url') {
          if (input.to.url.trim() === '') throw new HindsightError('bad_input', 'target URL: give a postgres:// connection URL of an empty database');
          parsePgUrl(input.to.url.trim());
          to = { url: input.to.url.trim() };
        } else throw new HindsightError('bad_input', 'target: a restore from a backup goes into a new database or an existing connection URL (a directory or sandbox needs a point in time)');
        const backupId = input.source.backupId === 'newest' || input.source.backupId === '' ? undefined : input.source.backupId;
        const started = await ops.startRestore({ database: input.database, ...(backupId ? { backupId } : {}), to });
        return { workflowId: started.workflowId };
      }

      // Point in time.
      const pitrConfig = await catalog.wal.config(input.database);
      if (!pitrConfig.enabled) throw new HindsightError('bad_input', `database "${input.database}" has no point-in-time recovery: turn PITR on first, or restore a backup`);
      let target: PitrRestoreInput['target'];
      if (input.source.kind === 'pitr-latest') target = 'latest';
      else {
        let zoned;
        try {
          zoned = zonedToRfc3339(input.source.time, input.source.timezone);
        } catch (error) {
          throw new HindsightError('bad_input', `target time: ${errorMessage(error)}`);
        }
        const { windows } = await recoveryWindows(input.database);
        const t = zoned.utc.getTime();
        const inside = windows.some((w) => Date.parse(w.from) <= t && t <= Date.parse(w.to));
        if (!inside) {
          const listed = windows.length ? windows.map((w) => `${w.from} – ${w.to}`).join(', ') : 'none yet (wait for a base backup and WAL)';
          throw new HindsightError('bad_input', `target time ${zoned.rfc3339} is outside every recoverable window of "${input.database}": choose a moment inside ${listed}`);
        }
        target = { time: zoned.rfc3339 };
      }
      let to: PitrRestoreInput['to'];
      if (input.to.kind === 'directory') to = { directory: input.to.directory.trim(), ...(input.to.agent ? { agent: input.to.agent.trim() } : {}) };
      else if (input.to.kind === 'sandbox') to = { sandbox: true };
      else throw new HindsightError('bad_input', 'target: a point-in-time restore goes into an empty directory on an agent, or a sandbox');
      const pitrInput = parseOrThrow(pitrRestoreInput, { database: input.database, target, to }, 'point-in-time restore');
      const workflowId = pitrRestoreWorkflowId(input.database, new Date());
      await pitrFor(actor).restore(input.database, to, () => startJob(temporal, pitrRestoreWorkflow, {
        workflowId, taskQueue: config.taskQueue, input: pitrInput, database: input.database, onConflict: 'fail',
      }));
      return { workflowId };
    },

    async restoreStatus(ref, workflowId) {
      const actor = asActor(ref);
      const database = databaseOfRestoreId(workflowId);
      if (!database) throw new HindsightError('not_found', `restore "${workflowId}" does not exist (restore ids look like restore/<database>/<time>)`);
      await authz.authorizeDatabase(actor, database, 'history.read');
      const handle = temporal.workflow.getHandle(workflowId);
      let description;
      try {
        description = await handle.describe();
      } catch {
        throw new HindsightError('not_found', `restore "${workflowId}" does not exist`);
      }
      const kind = description.type === pitrRestoreWorkflow.type ? 'pitr' : description.type === restoreBackupWorkflow.type ? 'logical' : null;
      if (!kind) throw new HindsightError('not_found', `restore "${workflowId}" does not exist`);
      const state = stateOf(description.status.name);
      const base: ConsoleRestoreStatus = {
        workflowId, database, kind, state, stage: state, startedAt: iso(description.startTime), closedAt: iso(description.closeTime ?? null),
        logical: null, pitr: null, error: null, verified: null,
        workflowUrl: workflowUrl(config.temporalUiUrl, config.temporalNamespace, workflowId), temporalUiUrl: config.temporalUiUrl,
      };
      // A closed workflow answers queries by replay, which needs a worker; its result needs none.
      try {
        if (kind === 'logical') {
          const p = await handle.query(restoreProgressQuery);
          // The id names the database, but anyone with Temporal access could start one under a misleading id: trust the workflow's own answer.
          if (p.database !== database) throw new HindsightError('not_found', `restore "${workflowId}" does not exist`);
          const backup = p.backupId ? await catalog.getBackup(p.backupId).catch(() => undefined) : undefined;
          base.stage = p.stage;
          base.logical = { backupId: p.backupId, readBytes: p.readBytes, restoredBytes: p.restoredBytes, totalBytes: backup?.sizeBytes ?? null };
          base.error = p.error;
        } else {
          const p = await handle.query(pitrProgressQuery);
          if (p.database !== database) throw new HindsightError('not_found', `restore "${workflowId}" does not exist`);
          base.stage = p.stage;
          base.pitr = { baseBackupId: p.baseBackupId, window: p.window, extractedBytes: p.extractedBytes, segmentsFetched: p.segmentsFetched, replayLsn: p.replayLsn };
          base.error = p.error;
        }
      } catch (error) {
        if (error instanceof HindsightError) throw error;
        if (state === 'running') base.error = `progress is not available yet: ${errorMessage(error)}`;
      }
      if (state === 'completed') {
        if (kind === 'logical') {
          const outcome = await handle.result() as RestoreOutcome;
          const backup = await catalog.getBackup(outcome.backupId).catch(() => undefined);
          base.stage = 'verified';
          base.verified = {
            backupId: outcome.backupId, target: outcome.target, tablesChecked: outcome.tablesChecked, rowsChecked: outcome.rowsChecked,
            storageName: outcome.storageName, warnings: outcome.warnings ?? [], tables: backup?.rowCounts ?? [], pitr: null,
          };
        } else {
          const o = await handle.result() as PitrOutcome;
          base.stage = 'promoted';
          base.verified = {
            backupId: o.baseBackupId, target: o.kept ? `${o.dataDirectory} (127.0.0.1:${o.port})` : 'sandbox (checked and removed)',
            tablesChecked: null, rowsChecked: null, storageName: null, warnings: o.note ? [o.note] : [], tables: [],
            pitr: { reachedLsn: o.reachedLsn, lastTransactionTime: o.lastTransactionTime, newTimeline: o.newTimeline, dataDirectory: o.dataDirectory, port: o.port, kept: o.kept, note: o.note },
          };
        }
      } else if (state !== 'running' && state !== 'unknown') {
        try {
          await handle.result();
        } catch (error) {
          base.error = rootCause(error);
        }
        // A terminated or timed-out run never reached its own catch block: its last stage would mislead.
        if (state !== 'failed' || base.stage === 'running') base.stage = state;
      }
      return base;
    },

    async storages(ref) {
      const actor = asActor(ref);
      const ops = deps.operationsFor(actor);
      const [storages, databases, names] = await Promise.all([ops.listStorages(), ops.listDatabases(), workspaceNames(actor)]);
      return {
        storages: storages.map((s) => ({
          name: s.name, type: s.type, settings: s.settings, hasSecrets: s.hasSecrets, workspace: names.get(s.workspaceId) ?? String(s.workspaceId),
          usedBy: databases.filter((d) => d.storageNames.includes(s.name)).map((d) => d.name),
        })),
        workspaces: [...names].map(([id, name]) => ({
          id, name, canCreate: authz.can(actor, id, 'storage.create'), localRoot: isInstanceLevel(actor) ? null : workspaceStorageRoot(config.localStorageRoot, name),
        })),
        temporalUiUrl: config.temporalUiUrl,
      };
    },

    async testStorageConfig(ref, name, raw, workspaceId = DEFAULT_WORKSPACE_ID) {
      const actor = asActor(ref);
      // Testing a configuration reaches out to whatever it names: only those who may add one may.
      await deps.operationsFor(actor).authorizeStorageTest(name || 'new-storage', raw, workspaceId);
      return storageCheck(await testConfig(name || 'new-storage', raw));
    },

    async saveStorage(ref, name, raw, options) {
      await deps.operationsFor(asActor(ref)).saveStorage(name, raw, { skipCheck: options.skipCheck, ...(options.workspaceId ? { workspaceId: options.workspaceId } : {}) });
    },

    async testStorage(ref, name) {
      return storageCheck(await deps.operationsFor(asActor(ref)).testStorage(name));
    },

    async removeStorage(ref, name) {
      const ops = deps.operationsFor(asActor(ref));
      const users = (await ops.listDatabases()).filter((d) => d.storageNames.includes(name)).map((d) => d.name);
      if (users.length > 0) throw new HindsightError('conflict', `storage "${name}" is in use by ${users.map((u) => `"${u}"`).join(', ')}: point those databases at another storage first`);
      await ops.removeStorage(name);
    },

    async newDatabase(ref) {
      const actor = asActor(ref);
      const ops = deps.operationsFor(actor);
      const [storages, names] = await Promise.all([ops.listStorages(), workspaceNames(actor)]);
      return {
        storages: storages.map((s) => ({ name: s.name, type: s.type, workspace: names.get(s.workspaceId) ?? String(s.workspaceId), workspaceId: s.workspaceId })),
        workspaces: [...names].filter(([id]) => authz.can(actor, id, 'database.create')).map(([id, name]) => ({ id, name })),
        temporalUiUrl: config.temporalUiUrl,
      };
    },

    async testDatabase(ref, database) {
      // Only reachability and the server's version come back, never the stored credentials: reading is enough.
      await authz.authorizeDatabase(asActor(ref), database, 'history.read');
      return checkTarget(await runtime.catalog.databaseTarget(database));
    },

    async testDatabaseUrl(ref, url, workspaceId = DEFAULT_WORKSPACE_ID) {
      // Connecting to an address of the user's choosing is what adding a database does: same right.
      await authz.authorize(asActor(ref), workspaceId, 'database.create', { type: 'workspace', name: String(workspaceId) });
      return checkConnection(url);
    },

    async addDatabase(ref, input) {
      const record = await deps.operationsFor(asActor(ref)).addDatabase({
        name: input.name, url: input.url, ...(input.storages.length ? { storages: input.storages } : {}),
        schedule: input.schedule, timezone: input.timezone, workspaceId: input.workspaceId,
      });
      return { name: record.name };
    },

    async notifierChoices(ref) {
      const actor = asActor(ref);
      const [databases, names] = await Promise.all([deps.operationsFor(actor).listDatabases(), workspaceNames(actor)]);
      return {
        types: [...notifierTypes], events: [...notificationEvents], databases: databases.map((d) => d.name),
        workspaces: [...names].filter(([id]) => authz.can(actor, id, 'notifier.create')).map(([id, name]) => ({ id, name })),
      };
    },

    async notifierForm(ref, name) {
      const n = await deps.notifiersFor(asActor(ref)).getNotifier(name);
      const secretNames = NOTIFIER_SECRET_FIELDS[n.type] ?? [];
      const stored = await catalog.notifiers.config(name);
      const secretsSet = secretNames.filter((f) => {
        const value = f === 'authPass' ? (stored as { auth?: unknown }).auth : (stored as Record<string, unknown>)[f];
        return value !== undefined && !(typeof value === 'object' && value !== null && Object.keys(value).length === 0);
      });
      const settings: Record<string, unknown> = { ...n.settings };
      if (n.type === 'email') {
        const auth = (stored as { auth?: { user: string } }).auth;
        if (auth) settings.authUser = auth.user;
      }
      return { name: n.name, type: n.type, settings, secretsSet, events: n.events, databases: n.databases };
    },

    async saveNotifier(ref, input) {
      const actor = asActor(ref);
      const notifiers = deps.notifiersFor(actor);
      const existing = await notifiers.getNotifier(input.name).catch((error: unknown) => {
        if ((error as { kind?: string }).kind === 'not_found') return undefined;
        throw error;
      });
      const stored = existing ? await catalog.notifiers.config(input.name) : null;
      const raw = notifierConfigFromForm(input.type, input.fields, stored);
      parseOrThrow(notifierConfigSchema, raw, `notifier "${input.name}"`);
      await notifiers.saveNotifier(input.name, raw, input.events, input.workspaceId ?? DEFAULT_WORKSPACE_ID);
      // Databases: attach is per database (it replaces that database's set), so touch only the changed ones.
      const before = new Set(existing?.databases ?? []);
      const after = new Set(input.databases);
      const all = await notifiers.listNotifiers();
      for (const db of new Set([...before, ...after])) {
        if (before.has(db) === after.has(db)) continue;
        const current = all.filter((n) => n.databases.includes(db) && n.name !== input.name).map((n) => n.name);
        await notifiers.attach(db, after.has(db) ? [...current, input.name] : current);
      }
    },

    async removeNotifier(ref, name) {
      await deps.notifiersFor(asActor(ref)).removeNotifier(name);
    },
  };
}
