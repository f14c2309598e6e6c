import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import type { Catalog } from '../lib/catalog/catalog.ts';
import type { BaseBackupRecord } from '../lib/catalog/wal.ts';
import type { Keyring } from '../lib/crypto/keyring.ts';
import { HindsightError, errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { freePort } from '../lib/net/free-port.ts';
import { chainView } from '../lib/pitr/chain-source.ts';
import { decidePitrTarget, loadStoredChain, type PitrPlanView } from '../lib/pitr/window.ts';
import { extractForRestore } from '../lib/pitr/combine.ts';
import { emptyDirectory } from '../lib/pitr/extract.ts';
import { chainOf } from '../lib/wal/incremental-chain.ts';
import { describeTarget } from '../lib/pitr/plan.ts';
import {
  dataDirectoryMajor,
  recoveryServer,
  runRecovery,
  type RecoveryOutcome,
  type RecoveryResult,
  type RecoveryServer,
} from '../lib/pitr/recover.ts';
import { holdChainWhileRestoring } from '../lib/pitr/restore-hold.ts';
import { recoverySettings, writeRecoverySettings } from '../lib/pitr/recovery-settings.ts';
import { configureRestoredServer, keptServerFacts, listenFor, warmClientTools } from '../lib/pitr/restored-server.ts';
import { stageClock, type StageClock } from '../lib/pitr/stage-clock.ts';
import { amcheckRestored, verifyExtractedBackup, type DrillCheck } from '../lib/pitr/drill-checks.ts';
import { restoreFigures } from '../lib/pitr/restore-figures.ts';
import { formatLsn } from '../lib/wal/lsn.ts';
import { startWalFetchServer, type WalFetchServer } from '../lib/pitr/wal-fetch-server.ts';
import { createWalSource } from '../lib/pitr/wal-source.ts';
import type { ChainView, PitrDestination, PitrOutcome, PitrTarget } from '../temporal/contracts/pitr.ts';
import { bindActivities } from './bind.ts';
import { prepareDestination } from './pitr-destination.ts';
import { extractIntoTarget } from './pitr-extract.ts';
import { progressReporter } from './progress.ts';

/** The fast restore_command entry (plain JavaScript, see bin/hindsight-wal-fetch.mjs). */
export const WAL_FETCH_ENTRY = fileURLToPath(new URL('../bin/hindsight-wal-fetch.mjs', import.meta.url));

export interface PitrDeps {
  catalog: Catalog;
  /** The current key encrypts; any key of the ring decrypts what it wrote (chosen by key id). */
  keyring: Keyring;
  logger: Logger;
  budget?: { sandboxRoot: string };
  /**
   * The directories a restore to a directory may be made in (HINDSIGHT_RESTORE_ROOT); default:
   * this process's configuration, which is the worker's or agent's own.
   */
  restoreRoots?: readonly string[];
  /** Looks at the promoted server before a sandbox is stopped and removed (tests prove what it refuses). */
  inspectPromoted?: (server: { dataDir: string; host: string; port: number }) => Promise<void>;
}

export type { PitrPlanView } from '../lib/pitr/window.ts';

/** What the restore activity adds to the plan for the workflow's outcome; the chain is always known here. */
export type PitrRestoreResult = Omit<PitrOutcome, 'database' | 'baseBackupId' | 'timeline' | 'baseBackupChain'> & {
  baseBackupChain: string[];
};

/**
 * Recovers to the target. A time target after the last commit of an idle database ends recovery
 * at the end of the archive: it is restarted with the LSN reached as its target (see recover.ts).
 */
async function recoverToTarget(
  input: { database: string; target: PitrTarget; endsAtHead?: boolean },
  recover: () => Promise<RecoveryOutcome>,
  writeSettings: (target: { lsnReached: string }) => Promise<void>,
  logger: Logger,
): Promise<{ result: RecoveryResult; note: string | null }> {
  const outcome = await recover();
  if (outcome.kind === 'promoted') return { result: outcome.result, note: null };
  if (typeof input.target !== 'object' || !('time' in input.target)) {
    throw new HindsightError(
      'bad_input',
      `recovery replayed every archived byte (to ${outcome.redoDoneAt}) without reaching ${describeTarget(input.target)}: the target does not exist in this timeline's WAL`,
    );
  }
  if (input.endsAtHead === false) {
    throw new HindsightError(
      'bad_input',
      `recovery replayed the archive to ${outcome.redoDoneAt}, where a gap begins, without reaching ${describeTarget(input.target)}: transactions up to the target may be in the missing WAL, so the restore is refused rather than silently ending early; choose a time before the gap or after the next base backup`,
    );
  }
  // The archive holds every byte up to the target (validated against the window) and no commit after it.
  const note = `no transaction committed between the last one in the archive and ${input.target.time}: recovery replayed everything archived (to ${outcome.redoDoneAt}) and promoted there`;
  logger.info(
    { database: input.database, redoDoneAt: outcome.redoDoneAt },
    'time target after the last commit: promoting at the end of the archive',
  );
  await writeSettings({ lsnReached: outcome.redoDoneAt });
  const again = await recover();
  if (again.kind !== 'promoted')
    throw new HindsightError('tool_failed', `recovery to ${again.redoDoneAt} did not complete`);
  return { result: again.result, note };
}

/** What a restore of `backup` extracts, full first: the backup alone, or its whole incremental chain. */
async function restoreChainOf(catalog: Catalog, backup: BaseBackupRecord): Promise<BaseBackupRecord[]> {
  const lineage = chainOf(backup.id, await catalog.wal.baseBackupsOf(backup.database));
  if (!lineage.whole)
    throw new HindsightError(
      'bad_input',
      `base backup ${backup.id} cannot be restored: ${lineage.reason}; choose a time after the next full base backup`,
    );
  if (lineage.members.some((m) => m.storageName !== backup.storageName)) {
    throw new HindsightError(
      'bad_input',
      `the incremental chain of base backup ${backup.id} spans storages; a restore reads one storage`,
    );
  }
  return lineage.members;
}

interface PitrRestoreInput {
  database: string;
  restoreId: string;
  baseBackupId: string;
  timeline: number;
  target: PitrTarget;
  to: PitrDestination;
  /** From the plan: whether an idle-database time target may promote at the end of the archive. */
  endsAtHead?: boolean;
  /** A drill (lib/pitr/drill-checks.ts): pg_verifybackup before recovery, pg_amcheck after promotion. */
  drill?: boolean;
}

/** One restore under way: what it restores, where, and what it has started (stopped again on failure). */
interface PitrRestoreRun {
  deps: PitrDeps;
  input: PitrRestoreInput;
  chain: BaseBackupRecord[];
  storageName: string;
  sandboxDir: string | null;
  dataDir: string;
  source: ReturnType<typeof createWalSource>;
  signal: AbortSignal;
  progress: { extractedBytes: number; segmentsFetched: number; replayLsn: string | undefined };
  report: () => void;
  fetcher?: WalFetchServer;
  server?: RecoveryServer;
  clock: StageClock;
  /** A drill's checks, as they complete. */
  checks: { verifyBackup?: DrillCheck; amcheck?: DrillCheck };
}

/** The base backup to restore, complete, with its whole incremental chain in one storage. */
async function restorableBaseBackup(catalog: Catalog, input: PitrRestoreInput) {
  const backup = await catalog.wal.getBaseBackup(input.baseBackupId);
  // The archive's own settings: a database sharing another's archive restores from that one's base backups.
  const config = await catalog.wal.config(backup.database);
  if (backup.status !== 'complete' || !backup.systemIdentifier || config.walSegmentSize === null) {
    throw new HindsightError(
      'bad_input',
      `base backup ${input.baseBackupId} is ${backup.status}: only a complete base backup can be restored`,
    );
  }
  const chain = await restoreChainOf(catalog, backup);
  return { backup, chain, systemIdentifier: backup.systemIdentifier, segmentSize: config.walSegmentSize };
}

/** Extracts the chain, serves restore_command from the archive, and writes the server's allow-listed configuration. */
async function prepareRecovery(run: PitrRestoreRun) {
  const { deps, input, dataDir, sandboxDir, progress } = run;
  const { keyring, logger } = deps;
  const attempt = Context.current().info.attempt;
  logger.info(
    { database: input.database, baseBackupId: input.baseBackupId, chain: run.chain.map((m) => m.id), dataDir, attempt },
    'extracting base backup',
  );
  const driver = await run.source.driver(run.storageName);
  const onBytes = (bytes: number) => {
    progress.extractedBytes = bytes;
    run.report();
  };
  await extractForRestore({
    chain: run.chain,
    driver,
    key: keyring.decryption(),
    dataDir,
    signal: run.signal,
    onBytes,
  });
  run.clock.mark('extract');
  // Before the source's configuration goes aside and recovery rewrites files: the manifest lists them as extracted.
  if (input.drill) run.checks.verifyBackup = await verifyExtractedBackup(dataDir, await dataDirectoryMajor(dataDir));
  const fetcher = await startWalFetchServer({
    source: run.source,
    key: keyring.decryption(),
    logger,
    signal: run.signal,
    onFetched: () => {
      progress.segmentsFetched += 1;
      run.report();
    },
  });
  run.fetcher = fetcher;
  const port = await freePort();
  // The source's configuration goes aside unread; the server starts from an allow-list.
  const configured = await configureRestoredServer({ dataDir, port, listen: listenFor({ sandboxDir, dataDir, port }) });
  logger.info(
    { database: input.database, dataDir, kept: configured.aside.kept, notKept: configured.aside.notKept },
    'source configuration set aside',
  );
  const restoreCommand = fetcher.restoreCommand;
  const writeSettings = (target: Parameters<typeof recoverySettings>[0]['target']) =>
    writeRecoverySettings(
      dataDir,
      configured.settings,
      recoverySettings({ target, timeline: input.timeline, restoreCommand }),
    );
  await writeSettings(input.target);
  run.clock.mark('configure');
  return { port, host: configured.host, fetcher, writeSettings };
}

/** Recovers to the target and waits for promotion; a sandbox is stopped and removed once the result is known. */
async function recoverAndPromote(run: PitrRestoreRun): Promise<PitrRestoreResult> {
  const { deps, input, dataDir, sandboxDir, progress } = run;
  const { port, host, fetcher, writeSettings } = await prepareRecovery(run);
  const recovering = await recoveryServer(dataDir, port, host);
  run.server = recovering;
  if (sandboxDir === null) warmClientTools(recovering.major);
  const connectAs = await deps.catalog.databaseTarget(input.database);
  const onTick = (s: { replayLsn: string | null }) => {
    if (s.replayLsn) progress.replayLsn = s.replayLsn;
    if (s.replayLsn) run.clock.mark('consistent');
    run.report();
  };
  const onStarted = () => run.clock.mark('start');
  const recover = () => runRecovery(recovering, { connectAs, signal: run.signal, onTick, onStarted });
  const { result, note } = await recoverToTarget(input, recover, writeSettings, deps.logger);
  run.clock.mark('promoted');
  deps.logger.info({ database: input.database, dataDir, port, ...result }, 'point-in-time restore promoted');
  const segmentsFetched = fetcher.fetched();
  await deps.inspectPromoted?.({ dataDir, host: recovering.host, port });
  if (input.drill) run.checks.amcheck = await amcheckRestored(recovering, connectAs);
  const extracted =
    'url' in input.to
      ? await extractIntoTarget(
          deps,
          { ...input, to: input.to, connectAs, signal: run.signal },
          recovering,
          (bytes) => {
            progress.extractedBytes = bytes;
            run.report();
          },
        )
      : undefined;
  const sandbox = sandboxDir !== null;
  if (sandbox) {
    await recovering.stop('fast');
    await rm(sandboxDir, { recursive: true, force: true, maxRetries: 3 });
  }
  const thenStop = 'directory' in input.to && input.to.thenStop === true;
  if (thenStop) await recovering.stop('fast');
  const server = sandbox ? {} : { server: await keptServerFacts(recovering, connectAs, !thenStop) };
  run.clock.mark('finish');
  return {
    ...result,
    dataDirectory: sandbox ? null : dataDir,
    port: sandbox ? null : port,
    kept: !sandbox,
    note,
    segmentsFetched,
    baseBackupChain: run.chain.map((m) => m.id),
    ...(extracted ? { extracted } : {}),
    ...server,
    ...(input.drill ? { drillChecks: run.checks } : {}),
  };
}

/** A failed restore stops its server and leaves an empty directory (or none), so that a retry starts clean. */
async function cleanUpFailedRestore(run: PitrRestoreRun, error: unknown): Promise<void> {
  const { server, sandboxDir, dataDir } = run;
  const log = server ? (await server.log()).trim().split('\n').slice(-3).join(' | ') : '';
  await server?.stop('immediate').catch(() => undefined);
  if (sandboxDir !== null) await rm(sandboxDir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
  else await emptyDirectory(dataDir).catch(() => undefined);
  run.deps.logger.warn(
    { database: run.input.database, dataDir, err: errorMessage(error), log },
    'point-in-time restore failed; the directory was emptied',
  );
}

/**
 * Extracts the base backup, recovers to the target with restore_command served from the
 * archive, and waits for promotion. A directory target is left running on its port; a sandbox
 * is stopped and removed once the result is known. On failure the directory is emptied again,
 * so that a retry starts clean.
 */
async function restoreToPointInTime(deps: PitrDeps, input: PitrRestoreInput): Promise<PitrRestoreResult> {
  const clock = stageClock();
  const { backup, chain, systemIdentifier, segmentSize } = await restorableBaseBackup(deps.catalog, input);
  const { sandboxDir, dataDir } = await prepareDestination(deps, input);
  const source = createWalSource(deps.catalog, { database: backup.database, systemIdentifier, segmentSize });
  const report = progressReporter();
  const progress = { extractedBytes: 0, segmentsFetched: 0, replayLsn: undefined as string | undefined };
  const run: PitrRestoreRun = {
    deps,
    input,
    chain,
    storageName: backup.storageName,
    sandboxDir,
    dataDir,
    source,
    signal: Context.current().cancellationSignal,
    progress,
    report: () => report(progress),
    clock,
    checks: {},
  };
  // Retention keeps the chain while this restore reads it (lib/retention/pitr-facts.ts).
  const { workflowExecution, activityId } = Context.current().info;
  const hold = { workflowId: workflowExecution?.workflowId ?? `activity/${activityId}`, database: backup.database };
  const release = await holdChainWhileRestoring(
    deps.catalog,
    { ...hold, baseBackupIds: chain.map((b) => b.id) },
    (err) => deps.logger.warn({ ...hold, err }, 'could not renew or release the hold on the base backups'),
  );
  clock.mark('destination');
  const beat = setInterval(run.report, 5000);
  try {
    const result = await recoverAndPromote(run);
    const startLsn = backup.startLsn === null ? null : formatLsn(backup.startLsn);
    return { ...result, figures: restoreFigures({ ...clock.report(), startLsn, reachedLsn: result.reachedLsn }) };
  } catch (error) {
    await cleanUpFailedRestore(run, error);
    throw error;
  } finally {
    clearInterval(beat);
    deps.logger.info({ database: input.database, restoreId: input.restoreId, ...clock.report() }, 'restore stages');
    await release();
    await run.fetcher?.close().catch(() => undefined);
    await source.close();
  }
}

/** Point-in-time restores: the chain's windows, the plan for a target, the restore itself. */
export const createPitrActivities = (deps: PitrDeps) => {
  const { catalog, logger } = deps;

  return {
    /** The recoverable windows and gaps, with every listed object looked up in storage. */
    async walChain(input: { database: string }): Promise<ChainView> {
      return chainView(await loadStoredChain(catalog, input.database), new Date());
    },

    /** Chooses the base backup and timeline for a target, or fails naming the windows. */
    async planPitrRestore(input: { database: string; target: PitrTarget }): Promise<PitrPlanView> {
      const plan = await decidePitrTarget(catalog, input.database, input.target, {
        onHeadUnknown: (err) =>
          logger.debug({ database: input.database, err }, 'could not ask the database how far it has written'),
      });
      logger.info(
        {
          database: input.database,
          target: describeTarget(input.target),
          baseBackupId: plan.baseBackupId,
          timeline: plan.timeline,
        },
        'point-in-time restore planned',
      );
      return plan;
    },

    ...bindActivities(deps, { restoreToPointInTime }),
  };
};

export type PitrActivities = ReturnType<typeof createPitrActivities>;
