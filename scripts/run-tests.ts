/**
 * Runs the whole suite with node's test runner: unit tests first (seconds), then the integration
 * tests against real PostgreSQL and Temporal servers. Each integration file starts its own servers
 * on free ports in its own temp directory, so two files run side by side (HINDSIGHT_TEST_JOBS,
 * default 2): much of a file's time is spent waiting on heartbeats, retries and server start-ups.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const only = process.argv.slice(2);
const jobs = Math.max(1, Number.parseInt(process.env.HINDSIGHT_TEST_JOBS ?? '2', 10) || 1);
const filesOf = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join(dir, f))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));

function run(files: string[], concurrency: number): number {
  if (files.length === 0) return 0;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], { stdio: 'inherit' });
  return result.status ?? 1;
}

const unit = run(filesOf('test/unit'), 1);
const integration = run(filesOf('test/integration'), jobs);
process.exit(unit !== 0 ? unit : integration);
