/**
 * Runs the whole suite with node's test runner: unit tests first (seconds), then the integration
 * tests against real PostgreSQL and Temporal servers. Files run one at a time: each integration
 * file starts its own servers and the machine has two cores.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const only = process.argv.slice(2);
const groups = ['test/unit', 'test/integration'];
const files = groups.flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join(dir, f)))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));

const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
