/**
 * The single-stream logical backup against the parallel one (pg_dump -Fd -j N in one tar object),
 * through the same pipeline the worker runs (lib/backup/dump.ts: hash, encrypt, local storage),
 * on a generated database (bench/dataset.ts). Rounds alternate between the contenders so that load
 * on the machine falls on both; it prints, per contender, the median wall time, its ratio to the
 * single stream measured in the same run, the stored size, then the cores and load averages.
 * Before pg_dump 16 it also times -j N with pg_dump's own gzip in each job, the alternative to the
 * zstd process the parallel dump uses there.
 * Environment: BENCH_SIZE_MB (default 600), BENCH_ROUNDS (default 3), BENCH_JOBS (default 2),
 * BENCH_PG_MAJOR (default: the test cluster's).
 *
 *   BENCH_SIZE_MB=100 scripts/node bench/parallel-dump.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CompressionChoice } from '../lib/backup/compress.ts';
import { streamDumpToStorage } from '../lib/backup/dump.ts';
import { generateSecretKey } from '../lib/crypto/secret-key.ts';
import { shareDirWithServerUser, type LocalCluster } from '../lib/pg/cluster.ts';
import { connect, type PgTarget } from '../lib/pg/connection.ts';
import { createLocalStorage } from '../lib/storage/local/driver.ts';
import { createDatabase, startTestCluster } from '../test/support/platform.ts';
import { fmtBytes, fmtSeconds } from './backup-vs-pg-dump/report-format.ts';
import { generateDataset } from './dataset.ts';
import { envInt, log, median } from './settings.ts';
import { runBench } from './support/run.ts';

/** One way of taking the backup: jobs, and where it is compressed (lib/backup/compress.ts). */
interface Contender {
  label: string;
  jobs: number;
  compression: CompressionChoice;
}

interface Round {
  label: string;
  jobs: number;
  seconds: number;
  storedBytes: number;
  pgDump: string;
}

const loads = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** One backup of `source` with `jobs` pg_dump jobs into a fresh local storage, removed afterwards. */
async function backupOnce(source: PgTarget, root: string, contender: Contender, n: number): Promise<Round> {
  const { jobs, label } = contender;
  const store = path.join(root, `store-${n}-${Math.random().toString(36).slice(2)}`);
  const driver = createLocalStorage({ name: 'bench', root: store });
  const started = performance.now();
  const { manifest } = await streamDumpToStorage({
    databaseName: 'bench',
    backupId: `20260101T000000Z-${String(n).padStart(3, '0')}${jobs}${contender.compression[0]}`,
    target: source,
    destinations: [{ name: 'bench', driver }],
    key: generateSecretKey(),
    parallelJobs: jobs,
    compression: contender.compression,
  });
  const seconds = (performance.now() - started) / 1000;
  await rm(store, { recursive: true, force: true });
  const where = `${manifest.tool.compression.algorithm} ${manifest.tool.compression.where}`;
  return {
    label: `${label}, ${where}`,
    jobs,
    seconds,
    storedBytes: manifest.object.sizeBytes,
    pgDump: manifest.tool.version,
  };
}

function report(rounds: Round[], contenders: Contender[]): void {
  const of = (c: Contender) => rounds.filter((r) => r.label.startsWith(`${c.label},`));
  const base = median(of(contenders[0]!).map((r) => r.seconds));
  for (const c of contenders) {
    const mine = of(c);
    const seconds = median(mine.map((r) => r.seconds));
    const size = median(mine.map((r) => r.storedBytes));
    log(
      `${mine[0]!.label}: median ${fmtSeconds(seconds)} (${(seconds / base).toFixed(3)}× the single stream), ` +
        `stored ${fmtBytes(size)}, pg_dump ${mine[0]!.pgDump}, rounds ${mine.map((r) => fmtSeconds(r.seconds)).join(', ')}`,
    );
  }
  log(`${os.cpus().length} cores; load average now ${loads()}`);
}

/** The single stream and -j N as the worker takes them; before pg_dump 16 also -j N with pg_dump's own gzip. */
function contendersFor(jobs: number, pgDumpMajor: number): Contender[] {
  const list: Contender[] = [
    { label: 'single stream (-Fc)', jobs: 1, compression: 'auto' },
    { label: `parallel (-Fd -j ${jobs})`, jobs, compression: 'auto' },
  ];
  if (pgDumpMajor < 16) list.push({ label: `parallel (-Fd -j ${jobs}) gzip in each job`, jobs, compression: 'inside' });
  return list;
}

runBench(log, async () => {
  const settings = {
    sizeMb: envInt('BENCH_SIZE_MB', 600),
    rounds: envInt('BENCH_ROUNDS', 3),
    jobs: envInt('BENCH_JOBS', 2),
    major: process.env.BENCH_PG_MAJOR ? envInt('BENCH_PG_MAJOR', 0) : undefined,
  };
  const root = await mkdtemp(path.join(os.tmpdir(), 'hindsight-bench-pardump-'));
  let cluster: LocalCluster | undefined;
  return {
    async work() {
      log(
        `parallel dump: ${settings.rounds} alternating rounds, -j 1 against -j ${settings.jobs}, about ${settings.sizeMb} MiB`,
      );
      // PostgreSQL refuses to run as root and runs as another user, which must reach its data directory.
      await shareDirWithServerUser(root);
      cluster = await startTestCluster(root, settings.major === undefined ? {} : { major: settings.major });
      const source = await createDatabase(cluster, 'bench');
      const clients = await Promise.all([connect('bench', source), connect('bench', source)]);
      const dataset = await generateDataset(clients, settings.sizeMb).finally(() =>
        Promise.all(clients.map((c) => c.end())),
      );
      log(`database size ${fmtBytes(dataset.sizeBytes)}, generated in ${fmtSeconds(dataset.seconds)}; load ${loads()}`);
      // A warm-up round reads the tables into the cache for every contender.
      const warm = await backupOnce(source, root, { label: 'warm-up', jobs: 1, compression: 'auto' }, 0);
      const contenders = contendersFor(settings.jobs, Number.parseInt(warm.pgDump, 10));
      const rounds: Round[] = [];
      for (let n = 1; n <= settings.rounds; n++) {
        // Alternating order: a round's first contender in one is its last in the next.
        for (const contender of n % 2 ? contenders : [...contenders].reverse()) {
          const round = await backupOnce(source, root, contender, n);
          rounds.push(round);
          log(
            `round ${n}, ${round.label}: ${fmtSeconds(round.seconds)}, ${fmtBytes(round.storedBytes)}; load ${loads()}`,
          );
        }
      }
      report(rounds, contenders);
    },
    async cleanup() {
      await cluster?.stop().catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
    onFailure() {},
  };
});
