/**
 * How long the `hindsight` command takes to answer, as a person at a terminal feels it: the wall
 * time of `hindsight --help` (no catalog, no Temporal) and of `hindsight db list` (the catalog,
 * one registered database), each the median of BENCH_CLI_RUNS runs (default 7) against a platform
 * started the way the other benches start it. Printed with their targets, never asserted.
 * BENCH_CLI_BIN times another checkout's bin/hindsight.mjs instead. `npm run bench` runs it after the
 * backup bench; alone:
 *
 *   scripts/node bench/cli-timing.ts
 */
import { startPlatform, type Platform } from '../test/support/platform.ts';
import { measureCliTimings } from './cli-timing/measure.ts';
import { log } from './settings.ts';
import { runBench } from './support/run.ts';

runBench(log, async () => {
  let platform: Platform | undefined;
  return {
    async work() {
      log('starting the platform (PostgreSQL, Temporal dev server, catalog)');
      platform = await startPlatform();
      await measureCliTimings(platform);
    },
    async cleanup() {
      await platform?.stop().catch(() => undefined);
    },
    onFailure() {},
  };
});
