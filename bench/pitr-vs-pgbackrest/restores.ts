/**
 * Restores to the end of the archive by each contender, timed until the server is promoted, with
 * where each spent its time: Hindsight's restore activity logs its stages ("restore stages",
 * lib/pitr/stage-clock.ts), pgBackRest's is split into `pgbackrest restore` and the server's start,
 * and both servers' own logs give start-up, redo and end of recovery (server-log.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openLocalCluster } from '../../lib/pg/cluster.ts';
import { connect, type PgTarget } from '../../lib/pg/connection.ts';
import { serverToolOfMajor } from '../../lib/pg/tools.ts';
import { LOG_FILE } from '../../lib/pitr/recover.ts';
import { pitrRestoreWorkflow, pitrRestoreWorkflowId } from '../../temporal/contracts/pitr.ts';
import { startJob } from '../../temporal/start.ts';
import { freePort } from '../../test/support/ports.ts';
import { log } from '../settings.ts';
import { readServerPhases, type ServerPhases } from './server-log.ts';
import { osUser, pgbackrest, timed, type Setup } from './setup.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface RestoreRun {
  seconds: number;
  /** Named parts of `seconds`, in order (what is not inside one of them is the rest). */
  parts: Record<string, number>;
  server: ServerPhases | null;
}

async function waitForPromotion(target: PgTarget, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const c = await connect('bench', target);
      const { rows } = await c.query<{ r: boolean }>('select pg_is_in_recovery() as r');
      await c.end();
      if (!rows[0]!.r) return;
    } catch {
      // still starting
    }
    if (Date.now() > deadline) throw new Error('restored server did not come up');
    await sleep(100);
  }
}

/** The last "restore stages" line of the worker's log: the activity's milliseconds per stage. */
async function lastRestoreStages(workerLog: string): Promise<{ stagesMs: Record<string, number>; totalMs: number }> {
  const lines = (await readFile(workerLog, 'utf8')).split('\n').filter((l) => l.includes('"restore stages"'));
  const last = lines.at(-1);
  if (!last) return { stagesMs: {}, totalMs: 0 };
  const entry = JSON.parse(last) as { stagesMs: Record<string, number>; totalMs: number };
  return { stagesMs: entry.stagesMs, totalMs: entry.totalMs };
}

/** One Hindsight pitrRestore to `latest` into a fresh directory, timed until promoted; the server is stopped after. */
async function hindsightRestore(setup: Setup, round: number): Promise<RestoreRun> {
  const { platform } = setup;
  const hDir = path.join(setup.dir, `restore-hindsight-${round}`);
  await mkdir(hDir, { recursive: true });
  execFileSync('chown', [`${osUser}:${osUser}`, hDir]);
  const h = await timed(async () => {
    const handle = await startJob(platform.client, pitrRestoreWorkflow, {
      workflowId: pitrRestoreWorkflowId('bench', new Date()),
      taskQueue: platform.config.taskQueue,
      input: { database: 'bench', target: 'latest', to: { directory: hDir } },
      database: 'bench',
      onConflict: 'fail',
    });
    return handle.result();
  });
  const outcome = h.value as { reachedLsn: string; segmentsFetched?: number; dataDirectory: string | null };
  const server = outcome.dataDirectory ? await readServerPhases(path.join(outcome.dataDirectory, LOG_FILE)) : null;
  if (outcome.dataDirectory) {
    const pgCtl = (await serverToolOfMajor('pg_ctl', setup.source.major)).path;
    spawnSync('runuser', ['-u', osUser, '--', pgCtl, 'stop', '-D', outcome.dataDirectory, '-m', 'immediate'], {
      stdio: 'ignore',
    });
  }
  await rm(hDir, { recursive: true, force: true });
  const stages = await lastRestoreStages(setup.workerLog);
  const parts: Record<string, number> = {
    'workflow, plan, activity start and end': h.seconds - stages.totalMs / 1000,
  };
  for (const [stage, ms] of Object.entries(stages.stagesMs)) parts[stage] = ms / 1000;
  log(
    `round ${round}: Hindsight pitrRestore latest ${h.seconds.toFixed(1)} s (reached ${outcome.reachedLsn}, ${outcome.segmentsFetched ?? '?'} WAL files fetched; ${describeParts(parts)})`,
  );
  return { seconds: h.seconds, parts, server };
}

/**
 * One `pgbackrest restore` to the end of its archive, then PostgreSQL started until promoted. The
 * copy runs with fsync on, as Hindsight's does: it would otherwise inherit the test cluster's
 * fsync=off, and skip both the data directory's fsync at start-up and the end-of-recovery
 * checkpoint's, which Hindsight's restored server pays.
 */
async function pgbackrestRestore(setup: Setup, round: number): Promise<RestoreRun> {
  const pDir = path.join(setup.dir, `restore-pgbackrest-${round}`);
  await mkdir(pDir, { recursive: true, mode: 0o700 });
  execFileSync('chown', [`${osUser}:${osUser}`, pDir]);
  const port = await freePort();
  await writeFile(`${pDir}.password`, `${setup.source.password}\n`, { mode: 0o600 });
  const started = performance.now();
  await pgbackrest(setup, [`--pg1-path=${pDir}`, 'restore']);
  const restored = (performance.now() - started) / 1000;
  const p = await timed(async () => {
    const cluster = await openLocalCluster({ dataDir: pDir, port, superuser: setup.source.superuser });
    // The restored copy must not archive into the source's stanza, nor listen on the source's socket.
    await writeFile(
      path.join(pDir, 'postgresql.auto.conf'),
      `${await readFile(path.join(pDir, 'postgresql.auto.conf'), 'utf8')}\narchive_mode = off\nunix_socket_directories = ''\nfsync = on\n`,
    );
    await cluster.start();
    await waitForPromotion({ ...setup.source.target('postgres'), port }, 600_000);
    return cluster;
  });
  const server = await readServerPhases(path.join(pDir, 'server.log'));
  await p.value.stop('immediate');
  await rm(pDir, { recursive: true, force: true });
  const parts = { 'pgbackrest restore': restored, 'start until promoted': p.seconds };
  const seconds = restored + p.seconds;
  log(`round ${round}: pgbackrest restore + start until promoted ${seconds.toFixed(1)} s (${describeParts(parts)})`);
  return { seconds, parts, server };
}

export const describeParts = (parts: Record<string, number>): string =>
  Object.entries(parts)
    .map(([name, s]) => `${name} ${s.toFixed(2)} s`)
    .join(', ');

/**
 * Hindsight pitrRestore (latest) vs pgbackrest restore + start on the same base backup moment and
 * WAL, alternating, `rounds` times each.
 */
export async function compareRestores(
  setup: Setup,
  startBaseBackup: () => Promise<unknown>,
  rounds: number,
): Promise<{ hindsight: RestoreRun[]; pgbackrest: RestoreRun[] } | null> {
  try {
    await startBaseBackup();
    await pgbackrest(setup, ['--type=full', 'backup']);
    // Both restore to the end of their archives: let each archive catch up with the last commit.
    await sleep(3000);
    const hindsight: RestoreRun[] = [];
    const pgbackrestRuns: RestoreRun[] = [];
    for (let round = 1; round <= rounds; round++) {
      hindsight.push(await hindsightRestore(setup, round));
      pgbackrestRuns.push(await pgbackrestRestore(setup, round));
    }
    return { hindsight, pgbackrest: pgbackrestRuns };
  } catch (error) {
    const causes: string[] = [];
    for (let e: unknown = error; e instanceof Error; e = e.cause) causes.push(e.message.split('\n')[0]!);
    log(`restore comparison skipped: ${causes.join(': ')}`);
    return null;
  }
}
