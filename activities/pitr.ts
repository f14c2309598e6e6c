import { access, chmod, mkdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
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
import { loadConfig } from '../lib/config.ts';
import { extractForRestore } from '../lib/pitr/combine.ts';
import { emptyDirectory, prepareDataDirectory } from '../lib/pitr/extract.ts';
import { chainOf } from '../lib/wal/incremental-chain.ts';
import { handToServerUser, runningAsRoot, serverUserCanEnter } from '../lib/pitr/os-user.ts';
import { describeTarget } from '../lib/pitr/plan.ts';
import { recoveryServer, runRecovery, type RecoveryOutcome, type RecoveryResult, type RecoveryServer } from '../lib/pitr/recover.ts';
import { recoverySettings, shellQuote, writeRecoverySettings } from '../lib/pitr/recovery-settings.ts';
import { confineRestoreDirectory } from '../lib/pitr/restore-root.ts';
import { configureRestoredServer, listenFor } from '../lib/pitr/restored-server.ts';
import { startWalFetchServer, type WalFetchServer } from '../lib/pitr/wal-fetch-server.ts';
import { createWalSource } from '../lib/pitr/wal-source.ts';
import { PROGRESS_SIGNAL, type ProgressSignalName } from '../temporal/contracts/common.ts';
import type { ChainView, PitrDestination, PitrOutcome, PitrTarget } from '../temporal/contracts/pitr.ts';
import { translated } from './failures.ts';

const exists = (file: string) => access(file).then(() => true, () => false);

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
  progress?: { send(workflowId: string, runId: string, signal: ProgressSignalName, report: object): Promise<void> };
}

export type { PitrPlanView } from '../lib/pitr/window.ts';

/** What the restore activity adds to the plan for the workflow's outcome; the chain is always known here. */
export type PitrRestoreResult = Omit<PitrOutcome, 'database' | 'baseBackupId' | 'timeline' | 'baseBackupChain'> & { baseBackupChain: string[] };

/**
 * `<sandbox root>/pitr-<id>`, owned by the server's user. The sandbox root is Hindsight's own and
 * must be traversable by that user (docs/configuration.md: HINDSIGHT_SANDBOX_ROOT); a root-owned one made 0700 by
 * another part of the worker is opened to traversal (o+x, no listing) rather than failing.
 */
async function prepareSandboxDir(sandboxDir: string): Promise<void> {
  const root = path.dirname(sandboxDir);
  await mkdir(root, { recursive: true, mode: 0o711 });
  if (!(await serverUserCanEnter(root)) && runningAsRoot()) {
    const info = await stat(root);
    if (info.uid === 0) await chmod(root, (info.mode & 0o777) | 0o011);
  }
  await mkdir(sandboxDir, { mode: 0o700 });
  await handToServerUser(sandboxDir);
}

/** Where a restore goes: a fresh sandbox, or a directory inside the restore roots, made empty and ready. */
async function prepareDestination(deps: PitrDeps, input: { restoreId: string; to: PitrDestination }): Promise<{ sandboxDir: string | null; dataDir: string }> {
  const stopLeftover = (dataDir: string) => async () => {
    if (await exists(path.join(dataDir, 'PG_VERSION'))) await (await recoveryServer(dataDir, 0)).stop('immediate');
  };
  if ('sandbox' in input.to) {
    const sandboxDir = path.join(deps.budget?.sandboxRoot ?? path.join(os.tmpdir(), 'hindsight-sandboxes'), input.restoreId);
    await prepareSandboxDir(sandboxDir);
    const dataDir = path.join(sandboxDir, 'data');
    await prepareDataDirectory(dataDir, input.restoreId, stopLeftover(dataDir));
    return { sandboxDir, dataDir };
  }
  const roots = deps.restoreRoots ?? loadConfig(process.env).restoreRoots;
  const dataDir = await confineRestoreDirectory(input.to.directory, roots);
  await prepareDataDirectory(dataDir, input.restoreId, stopLeftover(dataDir));
  // Made now, the directory must still be where it was checked (no parent swapped for a link meanwhile).
  if ((await confineRestoreDirectory(dataDir, roots)) !== dataDir) {
    throw new HindsightError('bad_input', `restore directory ${dataDir} moved while it was being made: restore under a root that only trusted users can write to`);
  }
  return { sandboxDir: null, dataDir };
}

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
    throw new HindsightError('bad_input', `recovery replayed every archived byte (to ${outcome.redoDoneAt}) without reaching ${describeTarget(input.target)}: the target does not exist in this timeline's WAL`);
  }
  if (input.endsAtHead === false) {
    throw new HindsightError('bad_input', `recovery replayed the archive to ${outcome.redoDoneAt}, where a gap begins, without reaching ${describeTarget(input.target)}: transactions up to the target may be in the missing WAL, so the restore is refused rather than silently ending early; choose a time before the gap or after the next base backup`);
  }
  // The archive holds every byte up to the target (validated against the window) and no commit after it.
  const note = `no transaction committed between the last one in the archive and ${input.target.time}: recovery replayed everything archived (to ${outcome.redoDoneAt}) and promoted there`;
  logger.info({ database: input.database, redoDoneAt: outcome.redoDoneAt }, 'time target after the last commit: promoting at the end of the archive');
  await writeSettings({ lsnReached: outcome.redoDoneAt });
  const again = await recover();
  if (again.kind !== 'promoted') throw new HindsightError('tool_failed', `recovery to ${again.redoDoneAt} did not complete`);
  return { result: again.result, note };
}

/** What a restore of `backup` extracts, full first: the backup alone, or its whole incremental chain. */
async function restoreChainOf(catalog: Catalog, backup: BaseBackupRecord): Promise<BaseBackupRecord[]> {
  const lineage = chainOf(backup.id, await catalog.wal.baseBackupsOf(backup.database));
  if (!lineage.whole) throw new HindsightError('bad_input', `base backup ${backup.id} cannot be restored: ${lineage.reason}; choose a time after the next full base backup`);
  if (lineage.members.some((m) => m.storageName !== backup.storageName)) {
    throw new HindsightError('bad_input', `the incremental chain of base backup ${backup.id} spans storages; a restore reads one storage`);
  }
  return lineage.members;
}

export const createPitrActivities = (deps: PitrDeps) => {
  const { catalog, keyring, logger } = deps;

  function reporter() {
    const ctx = Context.current();
    let last = 0;
    return (report: { extractedBytes?: number; segmentsFetched?: number; replayLsn?: string }) => {
      ctx.heartbeat(report);
      const now = Date.now();
      const execution = ctx.info.workflowExecution;
      if (!deps.progress || !execution || now - last < 2000) return;
      last = now;
      deps.progress.send(execution.workflowId, execution.runId, PROGRESS_SIGNAL, report).catch(() => undefined);
    };
  }

  return {
    /** The recoverable windows and gaps, with every listed object looked up in storage. */
    async walChain(input: { database: string }): Promise<ChainView> {
      return translated(async () => chainView(await loadStoredChain(catalog, input.database), new Date()));
    },

    /** Chooses the base backup and timeline for a target, or fails naming the windows. */
    async planPitrRestore(input: { database: string; target: PitrTarget }): Promise<PitrPlanView> {
      return translated(async () => {
        const plan = await decidePitrTarget(catalog, input.database, input.target, {
          onHeadUnknown: (err) => logger.debug({ database: input.database, err }, 'could not ask the database how far it has written'),
        });
        logger.info({ database: input.database, target: describeTarget(input.target), baseBackupId: plan.baseBackupId, timeline: plan.timeline }, 'point-in-time restore planned');
        return plan;
      });
    },

    /**
     * Extracts the base backup, recovers to the target with restore_command served from the
     * archive, and waits for promotion. A directory target is left running on its port; a sandbox
     * is stopped and removed once the result is known. On failure the directory is emptied again,
     * so that a retry starts clean.
     */
    async restoreToPointInTime(input: {
      database: string; restoreId: string; baseBackupId: string; timeline: number; target: PitrTarget; to: PitrDestination;
      /** From the plan: whether an idle-database time target may promote at the end of the archive. */
      endsAtHead?: boolean;
    }): Promise<PitrRestoreResult> {
      return translated(async () => {
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const report = reporter();
        const config = await catalog.wal.config(input.database);
        const backup = await catalog.wal.getBaseBackup(input.baseBackupId);
        if (backup.status !== 'complete' || !backup.systemIdentifier || config.walSegmentSize === null) {
          throw new HindsightError('bad_input', `base backup ${input.baseBackupId} is ${backup.status}: only a complete base backup can be restored`);
        }
        const chain = await restoreChainOf(catalog, backup);
        const { sandboxDir, dataDir } = await prepareDestination(deps, input);
        const sandbox = sandboxDir !== null;

        const source = createWalSource(catalog, { database: input.database, systemIdentifier: backup.systemIdentifier, segmentSize: config.walSegmentSize });
        const progress = { extractedBytes: 0, segmentsFetched: 0, replayLsn: undefined as string | undefined };
        const beat = setInterval(() => report(progress), 5000);
        let fetcher: WalFetchServer | undefined;
        let server: RecoveryServer | undefined;
        try {
          logger.info({ database: input.database, baseBackupId: backup.id, chain: chain.map((m) => m.id), dataDir, attempt: ctx.info.attempt }, 'extracting base backup');
          const driver = await source.driver(backup.storageName);
          await extractForRestore({ chain, driver, key: keyring.resolve, dataDir, signal, onBytes: (bytes) => { progress.extractedBytes = bytes; report(progress); } });
          fetcher = await startWalFetchServer({
            source, key: keyring.resolve, logger, signal,
            onFetched: () => { progress.segmentsFetched += 1; report(progress); },
          });
          const port = await freePort();
          // The source's configuration goes aside unread; the server starts from an allow-list.
          const configured = await configureRestoredServer({ dataDir, port, listen: listenFor({ sandboxDir: sandbox ? sandboxDir : null, dataDir, port }) });
          logger.info({ database: input.database, dataDir, kept: configured.aside.kept, notKept: configured.aside.notKept }, 'source configuration set aside');
          const restoreCommand = `${[process.execPath, WAL_FETCH_ENTRY, '--socket', fetcher.socketPath].map(shellQuote).join(' ')} %f %p`;
          const writeSettings = (target: Parameters<typeof recoverySettings>[0]['target']) =>
            writeRecoverySettings(dataDir, configured.settings, recoverySettings({ target, timeline: input.timeline, restoreCommand }));
          await writeSettings(input.target);
          const recovering = await recoveryServer(dataDir, port, configured.host);
          server = recovering;
          const connectAs = await catalog.databaseTarget(input.database);
          const onTick = (s: { replayLsn: string | null }) => {
            if (s.replayLsn) progress.replayLsn = s.replayLsn;
            report(progress);
          };
          const recover = () => runRecovery(recovering, { connectAs, signal, onTick });
          const { result, note } = await recoverToTarget(input, recover, writeSettings, logger);
          logger.info({ database: input.database, dataDir, port, ...result }, 'point-in-time restore promoted');
          const segmentsFetched = fetcher.fetched();
          await deps.inspectPromoted?.({ dataDir, host: server.host, port });
          if (sandbox) {
            await server.stop('fast');
            await rm(sandboxDir, { recursive: true, force: true, maxRetries: 3 });
          }
          return {
            ...result,
            dataDirectory: sandbox ? null : dataDir,
            port: sandbox ? null : port,
            kept: !sandbox,
            note,
            segmentsFetched,
            baseBackupChain: chain.map((m) => m.id),
          };
        } catch (error) {
          const log = server ? (await server.log()).trim().split('\n').slice(-3).join(' | ') : '';
          await server?.stop('immediate').catch(() => undefined);
          if (sandbox) await rm(sandboxDir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
          else await emptyDirectory(dataDir).catch(() => undefined);
          logger.warn({ database: input.database, dataDir, err: errorMessage(error), log }, 'point-in-time restore failed; the directory was emptied');
          throw error;
        } finally {
          clearInterval(beat);
          await fetcher?.close().catch(() => undefined);
          await source.close();
        }
      });
    },
  };
};

export type PitrActivities = ReturnType<typeof createPitrActivities>;
