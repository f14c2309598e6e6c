/**
 * Servers: a PostgreSQL cluster registered once (its URL sealed, its system identifier recorded),
 * backed up as a whole by `serverBackup` runs on a schedule of its own. Every method takes the
 * actor and passes the guard (services/guard.ts); a server's changes need the rights of the
 * database changes they lead to.
 */
import type { DrillSummary } from '../../lib/catalog/pitr-drills.ts';
import type { ServerRecord } from '../../lib/catalog/servers.ts';
import { HindsightError, errorMessage } from '../../lib/errors.ts';
import { parseRetentionPolicy } from '../../lib/retention/policy.ts';
import { serverBackupWorkflow, serverBackupWorkflowId } from '../../temporal/contracts/servers.ts';
import { nextServerRuns, setServerSchedule } from '../../temporal/server-schedules.ts';
import { startRun } from '../../temporal/start.ts';
import { notFound, type Action, type Actor } from '../authz.ts';
import type { ServiceContext } from '../context.ts';
import { DatabaseService } from '../databases/service.ts';
import { parseOrThrow } from '../input.ts';
import { identifyServer } from './identify.ts';
import {
  addServerInput,
  removeServerOptions,
  serverPitrInput,
  serverSettings,
  updateServerInput,
  type AddServerInput,
  type RemoveServerOptions,
  type ServerPitrInput,
  type UpdateServerInput,
} from './input.ts';
import { serverPitrOff, serverPitrOn, serverPitrStatus } from './pitr.ts';
import { serverDrillStatus, setServerDrillSchedule, startServerDrill, syncDrillSchedule } from './drills.ts';
import { setDrillSchedule } from '../../temporal/pitr-drill-schedules.ts';

const retentionOf = (raw: unknown) => (raw === null || raw === undefined ? raw : parseRetentionPolicy(raw));

export class ServerService {
  private readonly ctx: ServiceContext;

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
  }

  /** Registers a server after connecting to it: its version and system identifier are recorded. */
  async add(actor: Actor, raw: AddServerInput) {
    const workspaceId = raw.workspaceId ?? 1;
    const target = { type: 'server', name: String(raw.name) };
    const granted = await this.ctx.guard.require(actor, { workspace: workspaceId, target }, 'database.create');
    const input = parseOrThrow(addServerInput, { ...raw, workspaceId });
    await this.checkStorages(actor, workspaceId, input.storages);
    return this.ctx.guard.audited(
      actor,
      granted,
      'database.create',
      async () => {
        const identity = await identifyServer(input.name, input.url);
        const { catalog } = this.ctx.runtime;
        const record = await catalog.servers.addServer({
          ...input,
          ...identity,
          storageNames: input.storages,
          retentionPolicy: retentionOf(input.retention) ?? null,
        });
        try {
          await setServerSchedule(this.ctx, input.name, input.schedule, input.timezone);
        } catch (error) {
          await catalog.servers.removeServer(input.name);
          throw new HindsightError(
            'bad_input',
            `server "${input.name}": schedule "${input.schedule}" was refused by Temporal: ${errorMessage(error)}`,
          );
        }
        return record;
      },
      { before: null, after: serverSettings },
    );
  }

  async list(actor: Actor): Promise<ServerRecord[]> {
    const allowed = await this.ctx.guard.readable(actor);
    return (await this.ctx.runtime.catalog.servers.listServers()).filter((s) => allowed.has(s.workspaceId));
  }

  /**
   * Per readable server that has been drilled: how far its window is proven and its last drill's
   * outcome. One catalog query, nothing asked of Temporal: the overview loads it on every refresh.
   */
  async drillSummaries(actor: Actor): Promise<DrillSummary[]> {
    const readable = new Set((await this.list(actor)).map((s) => s.name));
    return (await this.ctx.runtime.catalog.servers.drillSummaries()).filter((d) => readable.has(d.server));
  }

  /** One server: its settings, its databases (dropped ones marked), its last and next runs, its PITR. */
  async show(actor: Actor, name: string) {
    const server = await this.locate(actor, name, 'history.read');
    const databases = await this.ctx.runtime.catalog.servers.serverDatabases(name);
    const nextRuns = server.schedule ? await nextServerRuns(this.ctx.temporal, name) : [];
    const pitr = await serverPitrStatus(this.ctx, name);
    return { server, databases, nextRuns, pitr, drills: await serverDrillStatus(this.ctx, name) };
  }

  /**
   * PITR for the whole server: one archive for the cluster (slot, stream, chain monitor, base
   * backups) that every database of the server shares, those it discovers later included.
   */
  async pitrOn(actor: Actor, name: string, raw: ServerPitrInput = {}) {
    const server = await this.locate(actor, name, 'database.update');
    parseOrThrow(serverPitrInput, raw);
    const on = async () => {
      const started = await serverPitrOn(this.ctx, server, raw);
      await syncDrillSchedule(this.ctx, server);
      return started;
    };
    return this.audit(actor, server, 'database.update', on, ({ archiveDatabase, tookOver, joined }) => ({
      pitr: true,
      archiveDatabase,
      tookOver,
      joined,
    }));
  }

  /** Stops streaming and drops the slot; the archive stays in storage (docs/servers.md). */
  async pitrOff(actor: Actor, name: string, options: { waitMs?: number } = {}) {
    const server = await this.locate(actor, name, 'database.update');
    const off = async () => {
      const stopped = await serverPitrOff(this.ctx, server, options);
      await syncDrillSchedule(this.ctx, server);
      return stopped;
    };
    return this.audit(actor, server, 'database.update', off, ({ left }) => ({ pitr: false, left }));
  }

  /** The database whose archive a whole-server restore reads; refused while the server never had PITR. */
  async archiveOf(actor: Actor, name: string): Promise<string> {
    await this.locate(actor, name, 'history.read');
    const carrier = await this.ctx.runtime.catalog.servers.serverArchive(name);
    if (!carrier)
      throw new HindsightError(
        'bad_input',
        `server "${name}" has no PITR archive: turn it on first (hindsight server pitr ${name} on), or restore a backup of one of its databases`,
      );
    return carrier;
  }

  /** Changes the schedule, storages, excludes, retention or flags; databases already registered keep theirs. */
  async update(actor: Actor, name: string, raw: UpdateServerInput) {
    const before = await this.locate(actor, name, 'database.update');
    const { pitrDrillSchedule, ...changes } = parseOrThrow(updateServerInput, raw);
    if (changes.storages) await this.checkStorages(actor, before.workspaceId, changes.storages);
    const retentionPolicy = retentionOf(changes.retention);
    return this.audit(actor, before, 'database.update', async () => {
      const { catalog } = this.ctx.runtime;
      if (changes.schedule !== undefined || changes.timezone !== undefined) {
        const schedule = changes.schedule === undefined ? before.schedule : changes.schedule;
        await setServerSchedule(this.ctx, name, schedule, changes.timezone ?? before.timezone);
      }
      const after = await catalog.servers.updateServerOptions(name, {
        ...changes,
        storageNames: changes.storages,
        retentionPolicy,
      });
      // The drill schedule runs in the server's time zone too.
      if (pitrDrillSchedule !== undefined || changes.timezone !== undefined)
        await setServerDrillSchedule(
          this.ctx,
          after,
          pitrDrillSchedule === undefined ? after.pitrDrillSchedule : pitrDrillSchedule,
        );
      return pitrDrillSchedule === undefined ? after : catalog.servers.getServer(name);
    });
  }

  /**
   * Removes a server and its schedule. Its databases are removed too (their backups kept in
   * storage, as `db remove` keeps them), unless `keepDatabases`: they then stay registered alone.
   */
  async remove(actor: Actor, name: string, raw: RemoveServerOptions = {}) {
    const server = await this.locate(actor, name, 'database.delete');
    const { keepDatabases } = parseOrThrow(removeServerOptions, raw);
    const { catalog } = this.ctx.runtime;
    // The database carrying the PITR archive goes last: the others read it until they are gone.
    const carrier = await catalog.servers.serverArchive(name);
    const databases = (await catalog.servers.serverDatabases(name)).sort(
      (a, b) => Number(a.name === carrier) - Number(b.name === carrier),
    );
    return this.audit(actor, server, 'database.delete', async () => {
      await setServerSchedule(this.ctx, name, null, server.timezone);
      await setDrillSchedule(this.ctx, name, null, server.timezone);
      const removed: string[] = [];
      if (!keepDatabases) {
        const each = new DatabaseService(this.ctx);
        for (const d of databases) {
          await each.remove(actor, d.name, { backups: 'keep' });
          removed.push(d.name);
        }
      }
      await catalog.servers.removeServer(name);
      return {
        server: name,
        removedDatabases: removed,
        keptDatabases: keepDatabases ? databases.map((d) => d.name) : [],
      };
    });
  }

  /** Starts a `serverBackup` run now; `result()` waits for its outcome. */
  async run(actor: Actor, name: string) {
    const server = await this.locate(actor, name, 'backup.start');
    return this.audit(
      actor,
      server,
      'backup.start',
      async () => {
        const workflowId = serverBackupWorkflowId(name, new Date());
        const input = { server: name, trigger: 'manual' as const };
        const handle = await startRun(this.ctx, serverBackupWorkflow, { workflowId, input, database: null });
        return { workflowId, result: () => handle.result() };
      },
      (r) => ({ workflowId: r.workflowId }),
    );
  }

  /** Starts a PITR drill of the server now (docs/pitr.md, "Drills"); `result()` waits for its outcome. */
  async drill(actor: Actor, name: string, options: { seed?: number } = {}) {
    const server = await this.locate(actor, name, 'verification.start');
    return this.audit(
      actor,
      server,
      'verification.start',
      () => startServerDrill(this.ctx, name, options),
      (r) => ({ workflowId: r.workflowId }),
    );
  }

  /** The server's drills: schedule, proven-up-to time, last outcome, the recent ones. */
  async drills(actor: Actor, name: string) {
    await this.locate(actor, name, 'history.read');
    return serverDrillStatus(this.ctx, name);
  }

  /** The server that registered a database, and whether the server has dropped it: what `db show` adds. */
  async ofDatabase(actor: Actor, database: string) {
    return this.ctx.guard.run(actor, { database }, 'history.read', () =>
      this.ctx.runtime.catalog.servers.databaseServer(database),
    );
  }

  /** The server, if the actor may act on it; a server of a workspace the actor cannot read does not exist. */
  private async locate(actor: Actor, name: string, action: Action): Promise<ServerRecord> {
    const server = await this.ctx.runtime.catalog.servers.findServer(name);
    const target = { type: 'server', name };
    if (!server || !this.ctx.guard.can(actor, server.workspaceId, 'history.read')) throw notFound(target);
    await this.ctx.guard.require(actor, { workspace: server.workspaceId, target }, action);
    return server;
  }

  private audit<T>(
    actor: Actor,
    server: ServerRecord,
    action: Action,
    work: () => Promise<T>,
    after?: (r: T) => unknown,
  ) {
    const granted = { workspaceId: server.workspaceId, target: { type: 'server', name: server.name } };
    return this.ctx.guard.audited(actor, granted, action, work, {
      before: serverSettings(server),
      after: after ?? ((r: T) => (isServer(r) ? serverSettings(r) : r)),
    });
  }

  /** A server backs up only to storages of its own workspace, as its databases do. */
  private async checkStorages(actor: Actor, workspaceId: number, names: string[]): Promise<void> {
    for (const name of names) {
      const home = await this.ctx.guard.access.storageWorkspace(name);
      if (home === workspaceId) continue;
      if (home === undefined || !this.ctx.guard.can(actor, home, 'history.read'))
        throw notFound({ type: 'storage', name });
      throw new HindsightError(
        'bad_input',
        `storage "${name}" belongs to another workspace: a server backs up only to storages of its own workspace`,
      );
    }
  }
}

const isServer = (r: unknown): r is ServerRecord =>
  typeof r === 'object' && r !== null && 'systemIdentifier' in r && 'allDatabases' in r;
