/**
 * The recoverable window of a database, decided in one place. The console's wizard, the service
 * that starts a point-in-time restore (console, API, CLI) and the workflow's planning activity all
 * read the chain from here: the catalog's WAL segments and base backups, each looked up in the
 * PITR storage (what storage lacks is a gap), with the head extended to now when the server says
 * it has written nothing more. So a target the console accepts is one the workflow will plan.
 */
import type { Catalog } from '../catalog/catalog.ts';
import { errorMessage } from '../errors.ts';
import { connect } from '../pg/connection.ts';
import { createStorageDriver } from '../storage/index.ts';
import { formatLsn, parseLsn, type Lsn } from '../wal/lsn.ts';
import { archiveOf, chainView, loadChain, type LoadedChain } from './chain-source.ts';
import type { ChainView } from './chain-view.ts';
import { describeTarget, extendHeadToNow, planRestore } from './plan.ts';
import type { PitrTarget } from './target.ts';

/** What a restore to a target will start from: the planning activity's answer to the workflow. */
export interface PitrPlanView {
  baseBackupId: string;
  timeline: number;
  /** The chosen window as text (UTC). */
  window: string;
  /** Whether the window ends at the archive's head (see RestorePlan.endsAtHead). */
  endsAtHead: boolean;
  agent: string | null;
}

/** How far the database's server has written: its timeline and WAL write position. */
export interface ServerHead {
  timeline: number;
  lsn: Lsn;
  /**
   * The server's own clock when it answered. Its commit timestamps, which a target time is matched
   * against, are on that clock, and this host's may differ from it by minutes.
   */
  at?: Date;
}

export interface WindowOptions {
  /** Told when the server could not say how far it has written (the chain then stands as stored). */
  onHeadUnknown?: (reason: string) => void;
  now?: Date;
  /**
   * How long WAL the server has already written may take to reach storage before the window's end
   * is called approximate: about two partial uploads (pitr_partial_interval_ms, default 1 s).
   */
  catchUpMs?: number;
  /** Asks the server how far it has written (a primary), null when it cannot say (a standby). */
  askServer?: (catalog: Catalog, database: string) => Promise<ServerHead | null>;
}

const DEFAULT_CATCH_UP_MS = 2500;
const CATCH_UP_POLL_MS = 100;

/** The chain as the catalog records it, each object checked against the PITR storage's listing. */
export async function loadStoredChain(catalog: Catalog, database: string): Promise<LoadedChain> {
  const { config } = await archiveOf(catalog, database);
  if (!config.storageName) return loadChain(catalog, database);
  const driver = createStorageDriver(config.storageName, await catalog.storageConfig(config.storageName));
  try {
    return await loadChain(catalog, database, driver);
  } finally {
    await driver.close?.().catch(() => undefined);
  }
}

/** `pg_current_wal_lsn()` of a primary; null in recovery, where it is not the cluster's head. */
async function askDatabase(catalog: Catalog, database: string): Promise<ServerHead | null> {
  const client = await connect(database, await catalog.databaseTarget(database));
  try {
    const { rows } = await client.query<{ lsn: string | null; wal: string | null; at: Date }>(
      `select case when pg_is_in_recovery() then null else pg_current_wal_lsn()::text end as lsn,
              case when pg_is_in_recovery() then null else pg_walfile_name(pg_current_wal_lsn()) end as wal,
              clock_timestamp() as at`,
    );
    const row = rows[0];
    if (!row?.lsn || !row.wal) return null;
    return { timeline: Number.parseInt(row.wal.slice(0, 8), 16), lsn: parseLsn(row.lsn), at: row.at };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Whether the windows reach every byte the server has written. */
const covers = (chain: LoadedChain, server: ServerHead): boolean =>
  chain.analysis.windows.some((w) => w.timeline === server.timeline && server.lsn <= w.to.lsn);

/** Waits (briefly) until the catalog records WAL in storage up to the server's position. */
async function archiveReaches(catalog: Catalog, chain: LoadedChain, server: ServerHead, ms: number): Promise<boolean> {
  for (const until = Date.now() + ms; ; await new Promise((r) => setTimeout(r, CATCH_UP_POLL_MS))) {
    const durable = await catalog.wal.latestDurable(chain.database, chain.systemIdentifier ?? undefined);
    if (
      durable &&
      (durable.timeline > server.timeline || (durable.timeline === server.timeline && durable.lsn >= server.lsn))
    )
      return true;
    if (Date.now() >= until) return false;
  }
}

/**
 * Asks the database how far it has written (a primary only). When storage holds all of it, the
 * archive is complete as of the moment asked, and the head window ends then, exactly. WAL already
 * written but still on its way (the archiver ships every partial interval) is waited for briefly,
 * then the chain is read again with `reload`. Otherwise the end stays the time the newest WAL
 * reached storage, marked approximate with the reason (lib/pitr/window-end.ts).
 */
export async function confirmHead(
  catalog: Catalog,
  chain: LoadedChain,
  options: WindowOptions = {},
  reload?: () => Promise<LoadedChain>,
): Promise<LoadedChain> {
  if (chain.analysis.windows.length === 0) return chain;
  let server: ServerHead | null;
  try {
    server = await (options.askServer ?? askDatabase)(catalog, chain.database);
  } catch (error) {
    options.onHeadUnknown?.(errorMessage(error));
    const reason = `the database could not say how far it has written (${errorMessage(error)})`;
    return { ...chain, head: { confirmed: false, reason } };
  }
  if (!server) {
    const reason = 'the database is in recovery and cannot say how far its primary has written';
    return { ...chain, head: { confirmed: false, reason } };
  }
  let current = chain;
  const catchUpMs = options.catchUpMs ?? DEFAULT_CATCH_UP_MS;
  if (!covers(current, server) && reload && (await archiveReaches(catalog, chain, server, catchUpMs)))
    current = await reload();
  if (!covers(current, server)) {
    const reason = `WAL the database wrote up to ${formatLsn(server.lsn)} on timeline ${server.timeline} is not all in storage yet`;
    return { ...current, head: { confirmed: false, reason } };
  }
  const checkedAt = options.now ?? server.at ?? new Date();
  return { ...extendHeadToNow(current, server, checkedAt), head: { confirmed: true, at: checkedAt } };
}

/**
 * The chain a restore is planned on and the windows people see: stored, with the head confirmed
 * by the server. Every caller (console bar, db show, API, restore check, planning activity) reads
 * the windows and their ends from here, so a time the bar shows is one the check accepts.
 */
export async function recoverableChain(
  catalog: Catalog,
  database: string,
  options: WindowOptions = {},
): Promise<LoadedChain> {
  const load = () => loadStoredChain(catalog, database);
  return confirmHead(catalog, await load(), options, load);
}

/** The recoverable windows and gaps as people read them. */
export async function recoverableWindows(
  catalog: Catalog,
  database: string,
  options: WindowOptions = {},
): Promise<ChainView> {
  return chainView(await recoverableChain(catalog, database, options), options.now ?? new Date());
}

/**
 * The decision: the base backup and timeline for a target, or a `bad_input` error naming every
 * window (in UTC and the database's zone) when the target lies outside them all.
 */
export async function decidePitrTarget(
  catalog: Catalog,
  database: string,
  target: PitrTarget,
  options: WindowOptions = {},
): Promise<PitrPlanView> {
  const chain = await recoverableChain(catalog, database, options);
  const { timezone } = await catalog.getDatabase(database);
  const plan = planRestore(chain, target, { timeZone: timezone });
  // Read from the whole view, so that the chosen window's end is described as the bar shows it.
  const window = chainView(chain, options.now ?? new Date()).windows.find(
    (w) => w.baseBackupId === plan.window.baseBackupId && w.timeline === plan.window.timeline,
  )!;
  return {
    baseBackupId: plan.baseBackupId,
    timeline: plan.timeline,
    window: window.text,
    endsAtHead: plan.endsAtHead,
    agent: chain.agent,
  };
}

export { describeTarget };
