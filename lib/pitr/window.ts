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
import { parseLsn } from '../wal/lsn.ts';
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

export interface WindowOptions {
  /** Told when the server could not say how far it has written (the chain then stands as stored). */
  onHeadUnknown?: (reason: string) => void;
  now?: Date;
}

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

/**
 * Asks the database how far it has written (a primary only): when storage already holds all of
 * it, the archive is complete as of now. A server that cannot be reached changes nothing.
 */
export async function confirmHead(
  catalog: Catalog,
  chain: LoadedChain,
  options: WindowOptions = {},
): Promise<LoadedChain> {
  if (chain.analysis.windows.length === 0) return chain;
  try {
    const client = await connect(chain.database, await catalog.databaseTarget(chain.database));
    try {
      const checkedAt = options.now ?? new Date();
      const { rows } = await client.query<{ lsn: string | null; wal: string | null }>(
        `select case when pg_is_in_recovery() then null else pg_current_wal_lsn()::text end as lsn,
                case when pg_is_in_recovery() then null else pg_walfile_name(pg_current_wal_lsn()) end as wal`,
      );
      const row = rows[0];
      if (!row?.lsn || !row.wal) return chain;
      return extendHeadToNow(
        chain,
        { timeline: Number.parseInt(row.wal.slice(0, 8), 16), lsn: parseLsn(row.lsn) },
        checkedAt,
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    options.onHeadUnknown?.(errorMessage(error));
    return chain;
  }
}

/** The chain a restore would be planned on: stored, with the head confirmed by the server. */
export async function recoverableChain(
  catalog: Catalog,
  database: string,
  options: WindowOptions = {},
): Promise<LoadedChain> {
  return confirmHead(catalog, await loadStoredChain(catalog, database), options);
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
  const window = chainView(
    { ...chain, analysis: { ...chain.analysis, windows: [plan.window] } },
    options.now ?? new Date(),
  ).windows[0]!;
  return {
    baseBackupId: plan.baseBackupId,
    timeline: plan.timeline,
    window: window.text,
    endsAtHead: plan.endsAtHead,
    agent: chain.agent,
  };
}

export { describeTarget };
