/**
 * Hindsight's PITR archive against pgBackRest on the same cluster, in one run:
 *  - base backup: Hindsight (pg_basebackup → zstd -5 → AES-256-GCM → storage) vs
 *    `pgbackrest backup --type=full` (zst level 5, aes-256-cbc, process-max 2: both use two cores);
 *  - restore: Hindsight pitrRestore to `latest` into a directory vs `pgbackrest restore` followed
 *    by starting PostgreSQL until it accepts connections, promoted;
 *  - RPO under a pgbench load: every second, the age of the newest WAL byte durable in storage
 *    (the server's LSN is sampled every 100 ms to date each byte).
 * Environment: BENCH_SIZE_MB (default 1100), BENCH_ROUNDS (default 2), BENCH_RPO_SECONDS (default 30),
 * BENCH_RESTORE_ROUNDS (default 3; restores alternate, medians).
 *
 *   scripts/node bench/pitr-vs-pgbackrest.ts
 *
 * pgBackRest is Debian's package, installed here (not in tests) when missing.
 */
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openLocalCluster, type LocalCluster } from '../lib/pg/cluster.ts';
import { connect, libpqEnv, targetUrl, type PgTarget } from '../lib/pg/connection.ts';
import { serverToolOfMajor, toolFor } from '../lib/pg/tools.ts';
import { formatLsn, parseLsn } from '../lib/wal/lsn.ts';
import { pitrRestoreWorkflow, pitrRestoreWorkflowId } from '../temporal/contracts/pitr.ts';
import { startJob } from '../temporal/start.ts';
import { serviceContext, type ServiceContext } from '../services/context.ts';
import { enablePitr, startBaseBackup } from '../services/pitr/archive.ts';
import { createDatabase, startPlatform, startTestCluster, type Platform } from '../test/support/platform.ts';
import { freePort } from '../test/support/ports.ts';
import { generateDataset } from './dataset.ts';
import { asPostgres, ensurePgBackRest, runAsync, startWorkerProcess } from './pitr-vs-pgbackrest/processes.ts';
import { envInt, log, median } from './settings.ts';

const MIB = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const fmtBytes = (n: number) => `${(n / MIB).toFixed(1)} MiB`;
const osUser = process.env.HINDSIGHT_PG_OS_USER ?? 'postgres';

interface Setup {
  platform: Platform;
  source: LocalCluster;
  target: PgTarget;
  dir: string;
  conf: string;
  socketDir: string;
}

/**
 * A source cluster both contenders can back up: a unix socket and local trust for pgBackRest (it
 * connects only through the socket), archive_command for pgBackRest's own WAL archive (its backups
 * need it), and the replication slot and TCP access Hindsight uses.
 */
async function setUp(): Promise<Setup> {
  const platform = await startPlatform();
  const dir = path.join(platform.dir, 'bench');
  await mkdir(dir, { recursive: true });
  const source = await startTestCluster(dir);
  const socketDir = path.join(dir, 'sock');
  const repo = path.join(dir, 'pgbr-repo');
  for (const d of [
    socketDir,
    repo,
    path.join(dir, 'pgbr-log'),
    path.join(dir, 'pgbr-lock'),
    path.join(dir, 'pgbr-spool'),
  ])
    await mkdir(d, { recursive: true });
  const conf = path.join(dir, 'pgbackrest.conf');
  await writeFile(
    conf,
    [
      '[global]',
      `repo1-path=${repo}`,
      'repo1-retention-full=10',
      'repo1-cipher-type=aes-256-cbc',
      `repo1-cipher-pass=${randomBytes(24).toString('base64url')}`,
      'compress-type=zst',
      'compress-level=5',
      'process-max=2',
      'start-fast=y',
      'log-level-console=warn',
      'log-level-file=off',
      `log-path=${path.join(dir, 'pgbr-log')}`,
      `lock-path=${path.join(dir, 'pgbr-lock')}`,
      `spool-path=${path.join(dir, 'pgbr-spool')}`,
      '',
      '[bench]',
      `pg1-path=${source.dataDir}`,
      `pg1-port=${source.port}`,
      `pg1-socket-path=${socketDir}`,
      `pg1-user=${source.superuser}`,
      '',
    ].join('\n'),
  );
  execFileSync('chown', [
    '-R',
    `${osUser}:${osUser}`,
    socketDir,
    repo,
    path.join(dir, 'pgbr-log'),
    path.join(dir, 'pgbr-lock'),
    path.join(dir, 'pgbr-spool'),
    conf,
  ]);
  const hba = path.join(source.dataDir, 'pg_hba.conf');
  await writeFile(hba, `local all all trust\nlocal replication all trust\n${await readFile(hba, 'utf8')}`);
  const target = await createDatabase(source, 'bench_source');
  const admin = await connect('bench', source.target());
  await admin.query(`alter system set unix_socket_directories = '${socketDir}'`);
  await admin.query(`alter system set archive_mode = on`);
  await admin.query(`alter system set archive_command = 'pgbackrest --config=${conf} --stanza=bench archive-push %p'`);
  // Both contenders compete with the same server settings; fsync off is the test default.
  await admin.query(`alter system set max_wal_size = '4GB'`);
  await admin.end();
  await source.stop('fast');
  await source.start();
  return { platform, source, target, dir, conf, socketDir };
}

function pgbackrest(setup: Setup, args: string[]): Promise<string> {
  return asPostgres(['pgbackrest', `--config=${setup.conf}`, '--stanza=bench', ...args]);
}

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { seconds: (performance.now() - started) / 1000, value };
}

async function waitForConnections(target: PgTarget, timeoutMs: number): Promise<void> {
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

/** What the comparisons need of the PITR service: a base backup of the bench database, started. */
interface Pitr {
  startBaseBackup(database: string): ReturnType<typeof startBaseBackup>;
}
const pitrOf = (ctx: ServiceContext): Pitr => ({ startBaseBackup: (database) => startBaseBackup(ctx, database) });
interface BaseBackupRun {
  seconds: number;
  raw: number;
  stored: number;
}

/** Base backups by each, alternating, after a warm-up one by each (page cache, first workflow). */
async function compareBaseBackups(setup: Setup, pitr: Pitr, rounds: number) {
  const hindsight: BaseBackupRun[] = [];
  const pgbr: BaseBackupRun[] = [];
  log('warm-up: one base backup by each (page cache, first workflow)');
  await (await pitr.startBaseBackup('bench')).result();
  await pgbackrest(setup, ['--type=full', 'backup']);
  for (let round = 1; round <= rounds; round++) {
    const h = await timed(async () => (await pitr.startBaseBackup('bench')).result());
    hindsight.push({ seconds: h.seconds, raw: h.value.rawBytes, stored: h.value.storedBytes });
    log(
      `round ${round}: Hindsight base backup ${h.seconds.toFixed(1)} s, ${fmtBytes(h.value.rawBytes)} → ${fmtBytes(h.value.storedBytes)} stored`,
    );
    const p = await timed(async () => pgbackrest(setup, ['--type=full', 'backup']));
    const info = JSON.parse(await pgbackrest(setup, ['--output=json', 'info'])) as Array<{
      backup: Array<{ info: { size: number; repository: { size: number; delta: number } } }>;
    }>;
    const last = info[0]!.backup.at(-1)!;
    pgbr.push({ seconds: p.seconds, stored: last.info.repository.size, raw: last.info.size });
    log(
      `round ${round}: pgbackrest backup --type=full ${p.seconds.toFixed(1)} s, ${fmtBytes(last.info.size)} → ${fmtBytes(last.info.repository.size)} stored`,
    );
  }
  return { hindsight, pgbr };
}

/** RPO under pgbench: the age of the newest durable WAL byte, every second. */
async function measureRpo(setup: Setup, rpoSeconds: number) {
  const wal = setup.platform.runtime.catalog.wal;
  const { target } = setup;
  const bench = await createDatabase(setup.source, 'pgbench');
  const pgbenchTool = (await toolFor('psql')).path.replace(/psql$/, 'pgbench');
  await runAsync(pgbenchTool, ['-i', '-q', '-s', '20'], libpqEnv(bench));
  log(`pgbench load for ${rpoSeconds} s (-c 4 -j 2), sampling`);
  const serverSamples: Array<{ at: number; lsn: bigint }> = [];
  const rpo: number[] = [];
  const sampler = await connect('bench', target);
  let sampling = true;
  const lsnLoop = (async () => {
    while (sampling) {
      const { rows } = await sampler.query<{ l: string }>('select pg_current_wal_lsn()::text as l');
      serverSamples.push({ at: Date.now(), lsn: parseLsn(rows[0]!.l) });
      await sleep(100);
    }
  })();
  const durableLoop = (async () => {
    await sleep(2000);
    while (sampling) {
      const durable = await wal.latestDurable('bench');
      const now = Date.now();
      if (durable) {
        // The newest moment at which the server had written nothing beyond what storage now holds.
        const covered = serverSamples.filter((s) => s.lsn <= durable.lsn).at(-1);
        if (covered) rpo.push((now - covered.at) / 1000);
      }
      await sleep(1000);
    }
  })();
  const load = {
    stdout: await runAsync(pgbenchTool, ['-c', '4', '-j', '2', '-T', String(rpoSeconds), '-n'], libpqEnv(bench)),
  };
  sampling = false;
  await Promise.all([lsnLoop, durableLoop]);
  await sampler.end();
  const tps = /tps = ([\d.]+)/.exec(load.stdout)?.[1] ?? '?';
  log(
    `pgbench: ${tps} tps; RPO samples: ${rpo.length}, median ${median(rpo).toFixed(2)} s, max ${Math.max(...rpo).toFixed(2)} s`,
  );
  return { rpo, tps };
}

/** One Hindsight pitrRestore to `latest` into a fresh directory, timed until promoted; the server is stopped after. */
async function hindsightRestore(setup: Setup, round: number): Promise<number> {
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
  log(
    `round ${round}: Hindsight pitrRestore latest ${h.seconds.toFixed(1)} s (reached ${outcome.reachedLsn}, ${outcome.segmentsFetched ?? '?'} WAL files fetched)`,
  );
  if (outcome.dataDirectory) {
    const pgCtl = (await serverToolOfMajor('pg_ctl', setup.source.major)).path;
    spawnSync('runuser', ['-u', osUser, '--', pgCtl, 'stop', '-D', outcome.dataDirectory, '-m', 'immediate'], {
      stdio: 'ignore',
    });
  }
  await rm(hDir, { recursive: true, force: true });
  return h.seconds;
}

/** One `pgbackrest restore` to the end of its archive, then PostgreSQL started until promoted. */
async function pgbackrestRestore(setup: Setup, round: number): Promise<number> {
  const pDir = path.join(setup.dir, `restore-pgbackrest-${round}`);
  await mkdir(pDir, { recursive: true, mode: 0o700 });
  execFileSync('chown', [`${osUser}:${osUser}`, pDir]);
  const port = await freePort();
  await writeFile(`${pDir}.password`, `${setup.source.password}\n`, { mode: 0o600 });
  const p = await timed(async () => {
    await pgbackrest(setup, [`--pg1-path=${pDir}`, 'restore']);
    const cluster = await openLocalCluster({ dataDir: pDir, port, superuser: setup.source.superuser });
    // The restored copy must not archive into the source's stanza, nor listen on the source's socket.
    await writeFile(
      path.join(pDir, 'postgresql.auto.conf'),
      `${await readFile(path.join(pDir, 'postgresql.auto.conf'), 'utf8')}\narchive_mode = off\nunix_socket_directories = ''\n`,
    );
    await cluster.start();
    await waitForConnections({ ...setup.source.target('postgres'), port }, 600_000);
    return cluster;
  });
  await p.value.stop('immediate');
  await rm(pDir, { recursive: true, force: true });
  log(
    `round ${round}: pgbackrest restore (to the end of its archive) + start until promoted ${p.seconds.toFixed(1)} s`,
  );
  return p.seconds;
}

/**
 * Hindsight pitrRestore (latest) vs pgbackrest restore + start on the same base backup moment and
 * WAL, alternating, `rounds` times each; medians.
 */
async function compareRestores(
  setup: Setup,
  pitr: Pitr,
  rounds: number,
): Promise<{ hindsight: number[]; pgbackrest: number[] } | null> {
  try {
    await (await pitr.startBaseBackup('bench')).result();
    await pgbackrest(setup, ['--type=full', 'backup']);
    // Both restore to the end of their archives: let each archive catch up with the last commit.
    await sleep(3000);
    const hindsight: number[] = [];
    const pgbackrestTimes: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      hindsight.push(await hindsightRestore(setup, round));
      pgbackrestTimes.push(await pgbackrestRestore(setup, round));
    }
    return { hindsight, pgbackrest: pgbackrestTimes };
  } catch (error) {
    const causes: string[] = [];
    for (let e: unknown = error; e instanceof Error; e = e.cause) causes.push(e.message.split('\n')[0]!);
    log(`restore comparison skipped: ${causes.join(': ')}`);
    return null;
  }
}

async function main(): Promise<void> {
  const sizeMb = envInt('BENCH_SIZE_MB', 1100);
  const rounds = envInt('BENCH_ROUNDS', 2);
  const rpoSeconds = envInt('BENCH_RPO_SECONDS', 30);
  const restoreRounds = envInt('BENCH_RESTORE_ROUNDS', 3);
  const pgbackrestPath = ensurePgBackRest();
  log(`pgBackRest: ${execFileSync(pgbackrestPath, ['version'], { encoding: 'utf8' }).trim()}`);
  log(
    `pg_basebackup: ${(await toolFor('pg_basebackup')).version}; zstd: ${execFileSync('zstd', ['--version'], { encoding: 'utf8' }).trim()}`,
  );
  const setup = await setUp();
  const { platform, target } = setup;
  let worker: ChildProcess | undefined;
  try {
    log(`generating about ${sizeMb} MiB of data`);
    const clients = await Promise.all([connect('bench', target), connect('bench', target)]);
    const dataset = await generateDataset(clients, sizeMb).finally(() => Promise.all(clients.map((c) => c.end())));
    log(`database size ${fmtBytes(dataset.sizeBytes)}, generated in ${dataset.seconds.toFixed(0)} s`);
    await pgbackrest(setup, ['stanza-create']);

    const workerLog = path.join(platform.dir, 'worker.log');
    worker = await startWorkerProcess(platform, workerLog);
    log(`worker log: ${workerLog}`);
    await platform.ops.addDatabase({ name: 'bench', url: targetUrl(target), verifyAfterBackup: false });
    const ctx = serviceContext(platform.runtime, platform.client);
    await enablePitr(ctx, 'bench', { firstBaseBackup: false });
    const pitr = pitrOf(ctx);
    const wal = platform.runtime.catalog.wal;
    for (let i = 0; i < 300 && !(await wal.latestDurable('bench')); i++) await sleep(100);

    const { hindsight, pgbr } = await compareBaseBackups(setup, pitr, rounds);
    const { rpo, tps } = await measureRpo(setup, rpoSeconds);
    const restore = await compareRestores(setup, pitr, restoreRounds);

    const hb = median(hindsight.map((r) => r.seconds));
    const pb = median(pgbr.map((r) => r.seconds));
    console.log('\n=== PITR vs pgBackRest ===');
    console.log(`database: ${fmtBytes(dataset.sizeBytes)} (pg_database_size), ${rounds} rounds, medians`);
    console.log(
      `base backup   Hindsight ${hb.toFixed(1)} s, ${fmtBytes(hindsight.at(-1)!.stored)} stored | pgBackRest ${pb.toFixed(1)} s, ${fmtBytes(pgbr.at(-1)!.stored)} stored | time ratio ${(hb / pb).toFixed(2)}× (target ≤ 1.0×), size ratio ${(hindsight.at(-1)!.stored / pgbr.at(-1)!.stored).toFixed(2)}×`,
    );
    if (restore) {
      const [h, p] = [median(restore.hindsight), median(restore.pgbackrest)];
      const all = (times: number[]) => times.map((t) => t.toFixed(1)).join(', ');
      console.log(
        `restore       Hindsight ${h.toFixed(1)} s (${all(restore.hindsight)}) | pgBackRest ${p.toFixed(1)} s (${all(restore.pgbackrest)}) | ratio ${(h / p).toFixed(2)}× (target ≤ 0.8×), median of ${restoreRounds}`,
      );
    } else console.log('restore       not measured (see above)');
    console.log(
      `RPO (pgbench ${tps} tps, ${rpo.length} samples) median ${median(rpo).toFixed(2)} s, max ${Math.max(...rpo).toFixed(2)} s (target ≤ 2 s)`,
    );
    console.log(`newest durable WAL at the end: ${formatLsn((await wal.latestDurable('bench'))!.lsn)}`);
  } finally {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((resolve) => worker!.once('exit', resolve));
    }
    await setup.source.stop('immediate').catch(() => undefined);
    await rm(setup.dir, { recursive: true, force: true }).catch(() => undefined);
    await platform.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
