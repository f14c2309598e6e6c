/**
 * The I/O of a `serverBackup` run: list the server's databases, register the new ones, mark the
 * dropped ones, queue what people should hear of (lib/servers/discovery.ts decides), and record
 * the run's outcome on the server.
 */
import type { Catalog } from '../lib/catalog/catalog.ts';
import type { ServerRecord } from '../lib/catalog/servers.ts';
import { HindsightError } from '../lib/errors.ts';
import { readSystemIdentifier } from '../lib/backup/adopt-match.ts';
import { connect, type PgTarget } from '../lib/pg/connection.ts';
import { planDiscovery, type DiscoveryPlan } from '../lib/servers/discovery.ts';
import type { ServerBackupOutcome, ServerDiscovery } from '../temporal/contracts/servers.ts';
import { backedUpByRuns } from '../lib/servers/pitr-rules.ts';
import { bindActivities } from './bind.ts';
import { createOutbox, type NotificationDeps, type Outbox } from './notifications.ts';

/** The databases a run may back up: templates and databases that refuse connections are never listed. */
const LIVE_DATABASES = 'select datname from pg_database where datallowconn and not datistemplate order by datname';

async function readServer(target: PgTarget): Promise<{ live: string[]; systemIdentifier: string | undefined }> {
  const client = await connect(`server ${target.host}:${target.port}`, target);
  try {
    const { rows } = await client.query<{ datname: string }>(LIVE_DATABASES);
    return { live: rows.map((r) => r.datname), systemIdentifier: await readSystemIdentifier(client) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Another cluster behind the same address must not have its databases taken for this server's. */
function assertSameServer(server: ServerRecord, found: string | undefined): void {
  if (found === undefined || found === server.systemIdentifier) return;
  throw new HindsightError(
    'conflict',
    `server "${server.name}" at ${server.host}:${server.port} now answers with system identifier ${found}, ` +
      `not ${server.systemIdentifier} recorded when it was added: it is another cluster; ` +
      `register it under a new name (hindsight server add) or remove this one (hindsight server remove ${server.name})`,
  );
}

/** Registers one new database with the server's URL, storages, retention and verification. */
export async function registerDatabase(catalog: Catalog, server: ServerRecord, target: PgTarget, name: string) {
  await catalog.addDatabase({
    name,
    target,
    storageNames: server.storageNames,
    schedule: null,
    timezone: server.timezone,
    verifyAfterBackup: server.verifyAfterBackup,
    workspaceId: server.workspaceId,
  });
  await catalog.servers.linkDatabase(server.name, name);
  if (server.retentionPolicy !== null)
    await catalog.updateDatabaseSettings(name, { retentionPolicy: server.retentionPolicy });
}

/** The database carrying the server's PITR archive while it streams: what a new database shares. */
async function streamingArchive(catalog: Catalog, server: string): Promise<string | null> {
  const carrier = await catalog.servers.serverArchive(server);
  return carrier && (await catalog.wal.config(carrier)).enabled ? carrier : null;
}

/**
 * Applies the plan's registrations; a name taken meanwhile becomes a collision, not a failed run.
 * With the server's PITR on, each new database shares its archive at once: no slot of its own.
 */
async function applyRegistrations(catalog: Catalog, server: ServerRecord, plan: DiscoveryPlan) {
  const registered: DiscoveryPlan['register'] = [];
  const archive = await streamingArchive(catalog, server.name);
  for (const entry of plan.register) {
    const target = await catalog.servers.serverTarget(server.name, entry.datname);
    try {
      await registerDatabase(catalog, server, target, entry.name);
      if (archive) await catalog.wal.joinArchive(entry.name, archive);
      registered.push(entry);
    } catch (error) {
      if (!(error instanceof HindsightError) || error.kind !== 'conflict') throw error;
      plan.collisions.push({ ...entry, reason: error.message });
      plan.backup = plan.backup.filter((n) => n !== entry.name);
    }
  }
  return registered;
}

/** What people hear of a run: each new database, each dropped one, each name that could not be taken. */
async function queueNotifications(outbox: Outbox, record: ServerRecord, runId: string, d: ServerDiscovery) {
  const server = record.name;
  // No database of its own yet: the server's workspace is whose notifiers hear it, and no one else's.
  const queue = (event: 'database_discovered' | 'database_dropped', key: string, message: string) =>
    outbox.queue({ database: null, workspaceId: record.workspaceId, event, message, dedupeKey: `${runId}:${key}` });
  for (const r of d.registered)
    await queue(
      'database_discovered',
      `discovered:${r.name}`,
      `server "${server}" has a new database "${r.datname}": registered as "${r.name}" and backed up with the server`,
    );
  for (const c of d.collisions)
    await queue(
      'database_discovered',
      `collision:${c.datname}`,
      `server "${server}" has a new database "${c.datname}" that was not registered: ${c.reason}`,
    );
  for (const name of d.dropped)
    await queue(
      'database_dropped',
      `dropped:${name}`,
      `database "${name}" is no longer on server "${server}": marked dropped, its backups are kept and no more are taken`,
    );
}

/**
 * Discovery for a server with `--all-databases` (registers, marks dropped, notifies); for one
 * without, the databases it registered before and still has. Returns what the run backs up.
 */
async function discoverServer(
  deps: NotificationDeps,
  input: { server: string; /** The run's id: what a notification is queued once per. */ runId: string },
): Promise<ServerDiscovery> {
  const { catalog } = deps;
  const server = await catalog.servers.getServer(input.server);
  const known = await catalog.servers.serverDatabases(server.name);
  const empty = { registered: [], dropped: [], reappeared: [], collisions: [], excluded: [] };
  if (!server.allDatabases) {
    // The connection database registered to carry the PITR archive is backed up only when asked for.
    const carrier = await catalog.servers.serverArchive(server.name);
    const backup = known
      .filter((k) => k.droppedAt === null && backedUpByRuns(k, carrier, server.includePostgres))
      .map((k) => k.name);
    return { server: server.name, ...empty, backup, retention: await withRetention(catalog, backup) };
  }
  const { live, systemIdentifier } = await readServer(await catalog.servers.serverTarget(server.name));
  assertSameServer(server, systemIdentifier);
  const mine = new Set(known.map((k) => k.name));
  const taken = new Set((await catalog.listDatabases()).map((d) => d.name).filter((n) => !mine.has(n)));
  const plan = planDiscovery({
    server: server.name,
    live,
    known,
    excludes: server.excludes,
    taken,
    includePostgres: server.includePostgres,
  });
  const registered = await applyRegistrations(catalog, server, plan);
  for (const name of plan.dropped) await catalog.servers.setDropped(name, true);
  for (const name of plan.reappeared) await catalog.servers.setDropped(name, false);
  const discovery: ServerDiscovery = {
    server: server.name,
    registered,
    dropped: plan.dropped,
    reappeared: plan.reappeared,
    collisions: plan.collisions,
    excluded: plan.excluded,
    backup: plan.backup,
    retention: await withRetention(catalog, plan.backup),
  };
  await queueNotifications(createOutbox(deps), server, input.runId, discovery);
  return discovery;
}

async function withRetention(catalog: Catalog, databases: string[]): Promise<string[]> {
  const all = await catalog.listDatabases();
  const byName = new Map(all.map((d) => [d.name, d]));
  return databases.filter((n) => (byName.get(n)?.retentionPolicy ?? null) !== null);
}

/** The run's outcome, kept on the server for `server show` and the console. */
async function recordServerRun(deps: NotificationDeps, input: { outcome: ServerBackupOutcome }): Promise<void> {
  const { outcome } = input;
  await deps.catalog.servers.recordServerRun(outcome.server, {
    registered: outcome.registered.map((r) => r.name),
    dropped: outcome.dropped,
    reappeared: outcome.reappeared,
    collisions: outcome.collisions,
    backups: outcome.backups,
  });
}

export const createServerActivities = (deps: NotificationDeps) =>
  bindActivities(deps, { discoverServer, recordServerRun });
