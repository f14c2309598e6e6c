/**
 * Hindsight's PITR archive against pgBackRest on the same cluster, in one run:
 *  - base backup: Hindsight (pg_basebackup → zstd -5 → AES-256-GCM → storage) vs
 *    `pgbackrest backup --type=full` (zst level 5, aes-256-cbc, process-max 2: both use two cores);
 *  - restore: Hindsight pitrRestore to `latest` into a directory vs `pgbackrest restore` followed
 *    by starting PostgreSQL until it accepts connections, promoted, with where each spent its time;
 *  - RPO under a pgbench load: every second, the age of the newest WAL byte durable in storage
 *    (the server's LSN is sampled every 100 ms to date each byte).
 * Environment: BENCH_SIZE_MB (default 1100), BENCH_ROUNDS (default 2), BENCH_RPO_SECONDS (default 300),
 * BENCH_RESTORE_ROUNDS (default 3; restores alternate, medians), BENCH_PARTIAL_INTERVAL_MS (the
 * archive's partial-segment shipping interval, default 1000 as a new archive's). Prints a table
 * and writes bench/results/<date>-pitr.md (pitr-vs-pgbackrest/report.ts).
 *
 *   scripts/node bench/pitr-vs-pgbackrest.ts
 *
 * pgBackRest is Debian's package, installed here (not in tests) when missing.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { connect, targetUrl } from '../lib/pg/connection.ts';
import { toolFor } from '../lib/pg/tools.ts';
import { formatLsn } from '../lib/wal/lsn.ts';
import { serviceContext, type ServiceContext } from '../services/context.ts';
import { enablePitr, startBaseBackup } from '../services/pitr/archive.ts';
import { generateDataset } from './dataset.ts';
import { ensurePgBackRest, startWorkerProcess } from './pitr-vs-pgbackrest/processes.ts';
import { renderReport, writeReport, type BaseBackupRun } from './pitr-vs-pgbackrest/report.ts';
import { compareRestores } from './pitr-vs-pgbackrest/restores.ts';
import { measureRpo } from './pitr-vs-pgbackrest/rpo.ts';
import { pgbackrest, setUp, timed, type Setup } from './pitr-vs-pgbackrest/setup.ts';
import { envInt, log } from './settings.ts';

const MIB = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const fmtBytes = (n: number) => `${(n / MIB).toFixed(1)} MiB`;

/** What the comparisons need of the PITR service: a base backup of the bench database, started. */
interface Pitr {
  startBaseBackup(database: string): ReturnType<typeof startBaseBackup>;
}
const pitrOf = (ctx: ServiceContext): Pitr => ({ startBaseBackup: (database) => startBaseBackup(ctx, database) });

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

async function main(): Promise<void> {
  const sizeMb = envInt('BENCH_SIZE_MB', 1100);
  const rounds = envInt('BENCH_ROUNDS', 2);
  const rpoSeconds = envInt('BENCH_RPO_SECONDS', 300);
  const restoreRounds = envInt('BENCH_RESTORE_ROUNDS', 3);
  const partialIntervalMs = envInt('BENCH_PARTIAL_INTERVAL_MS', 1000);
  const pgbackrestPath = ensurePgBackRest();
  const versions = [
    execFileSync(pgbackrestPath, ['version'], { encoding: 'utf8' }).trim(),
    `pg_basebackup ${(await toolFor('pg_basebackup')).version}`,
    execFileSync('zstd', ['--version'], { encoding: 'utf8' }).trim(),
  ].join('; ');
  log(versions);
  const setup = await setUp();
  const { platform, target } = setup;
  let worker: ChildProcess | undefined;
  try {
    log(`generating about ${sizeMb} MiB of data`);
    const clients = await Promise.all([connect('bench', target), connect('bench', target)]);
    const dataset = await generateDataset(clients, sizeMb).finally(() => Promise.all(clients.map((c) => c.end())));
    log(`database size ${fmtBytes(dataset.sizeBytes)}, generated in ${dataset.seconds.toFixed(0)} s`);
    await pgbackrest(setup, ['stanza-create']);

    worker = await startWorkerProcess(platform, setup.workerLog);
    log(`worker log: ${setup.workerLog}`);
    await platform.ops.addDatabase({ name: 'bench', url: targetUrl(target), verifyAfterBackup: false });
    const ctx = serviceContext(platform.runtime, platform.client);
    await enablePitr(ctx, 'bench', { firstBaseBackup: false, partialIntervalMs });
    const pitr = pitrOf(ctx);
    const wal = platform.runtime.catalog.wal;
    for (let i = 0; i < 300 && !(await wal.latestDurable('bench')); i++) await sleep(100);

    const baseBackups = await compareBaseBackups(setup, pitr, rounds);
    const rpo = await measureRpo(setup, rpoSeconds);
    const restores = await compareRestores(
      setup,
      async () => (await pitr.startBaseBackup('bench')).result(),
      restoreRounds,
    );
    const result = {
      databaseBytes: dataset.sizeBytes,
      versions,
      baseBackups: { hindsight: baseBackups.hindsight, pgbackrest: baseBackups.pgbr },
      restores,
      rpo,
      rpoSeconds,
      partialIntervalMs,
    };
    console.log(`\n=== PITR vs pgBackRest ===\n${renderReport(result)}`);
    console.log(`newest durable WAL at the end: ${formatLsn((await wal.latestDurable('bench'))!.lsn)}`);
    log(`results written to ${await writeReport(result)}`);
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
