/**
 * PITR of a whole server (docs/servers.md, "Point-in-time recovery"): WAL belongs to the cluster,
 * so the server's archive is one slot, one stream and one chain of base backups, run by the
 * per-database machinery (services/pitr/archive.ts) for one carrier record, which every other
 * database of the server shares (migration 014). The carrier is the database that already archived
 * the cluster alone, taken over as it is, or else the server's own connection database, registered
 * for it: it outlives any database the server discovers and drops.
 */
import { registerDatabase } from '../../activities/servers.ts';
import type { ServerRecord } from '../../lib/catalog/servers.ts';
import { HindsightError, errorMessage } from '../../lib/errors.ts';
import { recoverableWindows } from '../../lib/pitr/window.ts';
import { databaseNameFor } from '../../lib/servers/discovery.ts';
import type { ServiceContext } from '../context.ts';
import { disablePitr, enablePitr } from '../pitr/archive.ts';
import type { EnablePitrInput } from '../pitr/input.ts';
import { chooseCarrier, offRefusal } from '../../lib/servers/pitr-rules.ts';

/** The server's PITR as `server show` and `db show` tell it. */
export interface ServerPitrStatus {
  enabled: boolean;
  /** The database record that carries the archive (slot, stream, base backups), once there is one. */
  archiveDatabase: string | null;
  /** The server's databases that restore from it. */
  sharedBy: string[];
  windows: Array<{ text: string }>;
  gaps: string[];
  error: string | null;
}

/** Which database carries the archive (pitr-rules.ts decides); registers the connection database when that is the one. */
async function carrierFor(
  ctx: ServiceContext,
  server: ServerRecord,
): Promise<{ name: string; tookOver: boolean; registeredNow: boolean }> {
  const { catalog } = ctx.runtime;
  const recorded = await catalog.servers.serverArchive(server.name);
  const alone = await catalog.wal.otherArchiverOfSystem(server.systemIdentifier, '');
  const choice = chooseCarrier({
    server: server.name,
    serverWorkspace: server.workspaceId,
    recorded: recorded ? { name: recorded, streaming: (await catalog.wal.config(recorded)).enabled } : null,
    alone: alone ? { name: alone, workspace: await catalog.access.databaseWorkspace(alone) } : null,
    connectionDatabase: databaseNameFor(server.name, server.dbname),
  });
  const registeredNow = choice.kind === 'register' && (await registerCarrier(ctx, server, choice.name));
  return { name: choice.name, tookOver: choice.kind === 'take-over', registeredNow };
}

/**
 * The server's connection database, registered under the server (or found so from an earlier time).
 * True when this call registered it.
 */
async function registerCarrier(ctx: ServiceContext, server: ServerRecord, name: string): Promise<boolean> {
  const { catalog } = ctx.runtime;
  if (!(await catalog.findDatabase(name))) {
    await registerDatabase(catalog, server, await catalog.servers.serverTarget(server.name), name);
    return true;
  }
  if ((await catalog.servers.databaseServer(name))?.server !== server.name)
    throw new HindsightError(
      'conflict',
      `database "${name}" is already registered and is not server "${server.name}"'s connection database, which carries its PITR archive: rename it (hindsight db update ${name} --name …)`,
    );
  return false;
}

/** Joins every database of the server that does not read the archive yet; returns their names. */
async function joinServerDatabases(ctx: ServiceContext, server: string, carrier: string): Promise<string[]> {
  const { catalog } = ctx.runtime;
  const joined: string[] = [];
  for (const d of await catalog.servers.serverDatabases(server)) {
    if (d.name === carrier || d.droppedAt !== null) continue;
    const config = await catalog.wal.config(d.name);
    if (config.archiveDatabase === carrier || config.agent) continue;
    await catalog.wal.joinArchive(d.name, carrier);
    joined.push(d.name);
  }
  return joined;
}

/**
 * Sets the server's archive up once for the cluster and has every database of the server share it.
 * Idempotent: on again changes the settings given and joins databases registered since.
 */
export async function serverPitrOn(ctx: ServiceContext, server: ServerRecord, raw: EnablePitrInput = {}) {
  const carrier = await carrierFor(ctx, server);
  let started: Awaited<ReturnType<typeof enablePitr>>;
  try {
    started = await enablePitr(ctx, carrier.name, raw);
  } catch (error) {
    // A carrier registered for this attempt alone would stay behind as a database nobody added.
    if (carrier.registeredNow) await ctx.runtime.catalog.removeDatabase(carrier.name);
    throw error;
  }
  await ctx.runtime.catalog.servers.setServerArchive(server.name, carrier.name);
  const joined = await joinServerDatabases(ctx, server.name, carrier.name);
  return {
    server: server.name,
    archiveDatabase: carrier.name,
    tookOver: carrier.tookOver,
    archiverWorkflowId: started.archiverWorkflowId,
    chainMonitorWorkflowId: started.chainMonitorWorkflowId,
    baseBackup: started.baseBackup
      ? { baseBackupId: started.baseBackup.baseBackupId, workflowId: started.baseBackup.workflowId }
      : null,
    joined,
  };
}

/**
 * Stops the stream and drops the slot; the archive stays in storage and the carrier keeps its
 * identity, so `server restore` still recovers the cluster inside the window it had. The server's
 * own databases leave the archive; a database registered on its own that shares it would lose its
 * point-in-time restores silently, so it is refused, naming it.
 */
export async function serverPitrOff(ctx: ServiceContext, server: ServerRecord, options: { waitMs?: number } = {}) {
  const { catalog } = ctx.runtime;
  const carrier = await catalog.servers.serverArchive(server.name);
  if (!carrier || !(await catalog.wal.config(carrier)).enabled)
    return { server: server.name, archiveDatabase: carrier, left: [], slotDropped: false, wasOn: false };
  const mine = (await catalog.servers.serverDatabases(server.name)).map((d) => d.name);
  const sharers = await catalog.wal.archiveSharers(carrier);
  const refusal = offRefusal(server.name, sharers, mine);
  if (refusal) throw refusal;
  for (const name of sharers) await catalog.wal.leaveArchive(name);
  const stopped = await disablePitr(ctx, carrier, options);
  return {
    server: server.name,
    archiveDatabase: carrier,
    left: sharers,
    slotDropped: stopped.slotDropped,
    wasOn: true,
  };
}

/** Whether the server archives its WAL, through which record, and the window one can restore to. */
export async function serverPitrStatus(ctx: ServiceContext, server: string): Promise<ServerPitrStatus> {
  const { catalog } = ctx.runtime;
  const archiveDatabase = await catalog.servers.serverArchive(server);
  const off = { enabled: false, archiveDatabase, sharedBy: [], windows: [], gaps: [], error: null };
  if (!archiveDatabase) return off;
  const { enabled } = await catalog.wal.config(archiveDatabase);
  const sharedBy = await catalog.wal.archiveSharers(archiveDatabase);
  if (!enabled) return { ...off, sharedBy };
  try {
    const view = await recoverableWindows(catalog, archiveDatabase);
    const gaps = view.gaps.map((g) => g.text);
    return { enabled, archiveDatabase, sharedBy, windows: view.windows, gaps, error: null };
  } catch (error) {
    return { ...off, enabled, sharedBy, error: errorMessage(error) };
  }
}
