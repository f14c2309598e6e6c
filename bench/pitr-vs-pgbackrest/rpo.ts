/**
 * RPO under pgbench: every second, the age of the newest WAL byte durable in storage, dated by the
 * server's LSN sampled every 100 ms (so a sample is up to 0.1 s pessimistic), summed up as
 * percentiles over the run.
 */
import type pg from 'pg';
import { connect, libpqEnv } from '../../lib/pg/connection.ts';
import { toolFor } from '../../lib/pg/tools.ts';
import { parseLsn } from '../../lib/wal/lsn.ts';
import { createDatabase } from '../../test/support/platform.ts';
import { log } from '../settings.ts';
import { runAsync } from './processes.ts';
import type { Setup } from './setup.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The nearest-rank percentile (p in 0–100) of `values`. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface RpoRun {
  samples: number[];
  tps: string;
  p50: number;
  p99: number;
  max: number;
}

/**
 * The archive must hold what the server has written before the load starts: generating the
 * database writes about its size in WAL, which the receiver may still be uploading, and sampling
 * then would measure that backlog rather than the steady state.
 */
async function waitForCatchUp(setup: Setup, client: pg.Client): Promise<void> {
  const wal = setup.platform.runtime.catalog.wal;
  const started = Date.now();
  const { rows } = await client.query<{ l: string }>('select pg_current_wal_lsn()::text as l');
  const goal = parseLsn(rows[0]!.l);
  for (;;) {
    const durable = await wal.latestDurable('bench');
    if (durable && durable.lsn >= goal) break;
    if (Date.now() - started > 20 * 60_000) throw new Error('the WAL archive did not catch up within 20 minutes');
    await sleep(1000);
  }
  log(`WAL archive caught up with the server in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** RPO under pgbench: the age of the newest durable WAL byte, every second. */
export async function measureRpo(setup: Setup, rpoSeconds: number): Promise<RpoRun> {
  const wal = setup.platform.runtime.catalog.wal;
  const { target } = setup;
  const bench = await createDatabase(setup.source, 'pgbench');
  const pgbenchTool = (await toolFor('psql')).path.replace(/psql$/, 'pgbench');
  await runAsync(pgbenchTool, ['-i', '-q', '-s', '20'], libpqEnv(bench));
  const sampler = await connect('bench', target);
  await waitForCatchUp(setup, sampler);
  log(`pgbench load for ${rpoSeconds} s (-c 4 -j 2), sampling`);
  const serverSamples: Array<{ at: number; lsn: bigint }> = [];
  const rpo: number[] = [];
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
        // Storage behind the first sample: the age is at least the time since that sample.
        const since = covered ?? serverSamples[0];
        if (since) rpo.push((now - since.at) / 1000);
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
  const run = { samples: rpo, tps, p50: percentile(rpo, 50), p99: percentile(rpo, 99), max: Math.max(...rpo) };
  log(
    `pgbench: ${tps} tps; RPO samples: ${rpo.length}, p50 ${run.p50.toFixed(2)} s, p99 ${run.p99.toFixed(2)} s, max ${run.max.toFixed(2)} s`,
  );
  return run;
}
