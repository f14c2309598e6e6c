/**
 * `npm test` after setup: the static checks (scripts/check.ts) and the test suites (scripts/run-tests.ts) side by
 * side. The checks are CPU-bound for about three minutes; the integration files spend much of their time waiting on
 * servers, heartbeats and retries. Run one after the other they added up to over 17 minutes on two cores. The checks
 * therefore run at the lowest CPU priority (nice 19): they take only the cycles the tests leave idle, so the tests
 * run as fast as alone and the checks finish inside them.
 *
 * The tests' output streams as it comes; the checks' output is held and printed whole when they end (at once when
 * they fail, so a developer can stop the run), and the exit code is non-zero when either failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('error', (error) => {
      process.stderr.write(`${error.message}\n`);
      resolve(1);
    });
    child.once('close', (code) => resolve(code ?? 1));
  });
}

// `nice` rather than os.setPriority after the spawn: the check's own children (eslint, tsc…) inherit it from the start.
const checks = spawn('nice', ['-n', '19', process.execPath, path.join(root, 'scripts/check.ts')], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'pipe'],
});
const held: Buffer[] = [];
checks.stdout.on('data', (d: Buffer) => held.push(d));
checks.stderr.on('data', (d: Buffer) => held.push(d));
const checksDone = exitOf(checks).then((code) => {
  const verdict = code === 0 ? 'passed' : 'FAILED (the tests go on; Ctrl-C stops them)';
  process.stdout.write(
    `\n━━ static checks ${verdict} ━━\n${Buffer.concat(held).toString()}━━ end of static checks ━━\n\n`,
  );
  return code;
});

const tests = spawn(process.execPath, [path.join(root, 'scripts/run-tests.ts'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});
const [testsCode, checksCode] = await Promise.all([exitOf(tests), checksDone]);
if (checksCode !== 0) process.stderr.write('static checks failed: see their output above\n');
process.exit(testsCode !== 0 ? testsCode : checksCode);
