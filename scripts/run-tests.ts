/**
 * Runs the whole suite with node's test runner: unit tests first (seconds), then the workflow tests on
 * Temporal's time-skipping test server (test/workflows/, mocked activities), then the integration
 * tests against real PostgreSQL and Temporal servers. Each integration file starts its own servers
 * on free ports in its own temp directory, so three files run side by side (HINDSIGHT_TEST_JOBS,
 * default 3, on two cores): much of a file's time is spent waiting on heartbeats, retries and server start-ups.
 * A runtime warning printed by a test file (a deprecation, an experimental feature, a dependency saying this
 * Node.js is too old) fails the run: it is how an unsupported runtime shows itself first.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { runtimeWarnings } from './runtime-warnings.ts';

const only = process.argv.slice(2);
const jobs = Math.max(1, Number.parseInt(process.env.HINDSIGHT_TEST_JOBS ?? '3', 10) || 1);
const filesOf = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => path.join(dir, f))
    .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
const warnings: string[] = [];
// Every test file is a process that loads hundreds of modules, and so is each worker, server and CLI it starts: with
// Node's compile cache on for all of them (inherited through the environment), only the first load of a source after
// a change compiles it and strips its types. The CLI's own entry uses the same directory (module.enableCompileCache),
// inside the project rather than the shared default under /tmp, which another local user could have created first.
process.env.NODE_COMPILE_CACHE ??= path.join(import.meta.dirname, '..', '.cache', 'node-compile-cache');
const RUN_TEST_FILES = path.join(import.meta.dirname, 'run-test-files.ts');

/**
 * The longest integration files (about 50 s or more each, three at a time on two cores; see the wall times printed at
 * the end of the integration phase), started first: run alphabetically, the longest files that sort late came last
 * and ran for a minute and more with the other slots empty. A stale entry costs nothing; a missing one only runs in its alphabetical place.
 */
const LONGEST_FIRST = [
  'console-browser',
  'access',
  'disaster-recovery',
  'console-database',
  'notifications',
  'sso',
  'console-restore-pitr',
  'pitr-acceptance',
  'getting-started',
  'wal-archive',
  'invitations',
  'backup-restore',
  'no-secrets',
  'health',
  'public-key-mode',
  'api-v1-servers-pitr',
  'verification',
  'schedules',
  'fan-out',
];
const longestFirst = (files: string[]) => {
  const rank = (f: string) => {
    const at = LONGEST_FIRST.indexOf(path.basename(f, '.test.ts'));
    return at === -1 ? LONGEST_FIRST.length : at;
  };
  return [...files].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
};

async function run(files: string[], concurrency: number, timed = false): Promise<number> {
  if (files.length === 0) return 0;
  // Piped to be read, so colours are asked for explicitly when a terminal shows them.
  const env = process.stdout.isTTY ? { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '1' } : process.env;
  // Through run() rather than `node --test`, which sorts its files by name and so would undo LONGEST_FIRST.
  const child = spawn(
    process.execPath,
    [RUN_TEST_FILES, String(concurrency), ...(timed ? ['--timed'] : []), ...files],
    { stdio: ['inherit', 'pipe', 'pipe'], env },
  );
  // The runner passes each file's stderr on through its report on stdout: both are read.
  for (const [input, output] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    createInterface({ input }).on('line', (line) => {
      output.write(`${line}\n`);
      warnings.push(...runtimeWarnings(line));
    });
  }
  const [code] = await new Promise<[number | null]>((resolve) => child.once('close', (status) => resolve([status])));
  return code ?? 1;
}

// Two unit files at once: most wait on a subprocess or a server start-up, and two cores halve the loop.
const unit = await run(filesOf('test/unit'), 2);
// Workflow tests each start a time-skipping test server (a JVM), which must answer within 5 s: one file at a time,
// alone (beside the unit files, whose processes use more than one core, it missed those 5 s on a busy machine).
const workflows = await run(filesOf('test/workflows'), 1);
const integration = await run(longestFirst(filesOf('test/integration')), jobs, true);
if (warnings.length > 0) {
  process.stderr.write(
    `\n${warnings.length} runtime warning(s) printed by the tests; each is a failure (fix its cause, do not silence it):\n${[...new Set(warnings)].map((w) => `  ${w}`).join('\n')}\n`,
  );
}
process.exit(
  unit !== 0 ? unit : workflows !== 0 ? workflows : integration !== 0 ? integration : warnings.length > 0 ? 1 : 0,
);
