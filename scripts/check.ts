/**
 * The static checks of `npm test`, side by side: ESLint (type-aware, the longest), Prettier's check, `tsc` and the
 * console's `svelte-check`. One after another they took as long as their sum; run together they take about as long
 * as ESLint alone, since each spends part of its time reading files and the others use the second core meanwhile.
 * Each one's output is kept and printed whole when it ends, one check after another (never interleaved), and the
 * run ends with a line per check and a non-zero exit naming the checks that failed.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

/** One step of a check: a tool from node_modules/.bin, its arguments and the folder it runs in. */
interface Step {
  bin: string;
  args: string[];
  cwd?: string;
}

/** A check: its name, the command a developer runs alone to see it again, and its steps, run in order. */
interface Check {
  name: string;
  rerun: string;
  steps: Step[];
}

const root = path.resolve(import.meta.dirname, '..');
const CHECKS: Check[] = [
  { name: 'eslint', rerun: 'npm run lint', steps: [{ bin: 'eslint', args: ['.'] }] },
  {
    name: 'prettier',
    rerun: 'npm run format:check (npm run format writes the fixes)',
    steps: [{ bin: 'prettier', args: ['--check', '--log-level', 'warn', '.'] }],
  },
  { name: 'tsc', rerun: 'npm run typecheck', steps: [{ bin: 'tsc', args: ['--noEmit', '-p', 'tsconfig.json'] }] },
  {
    name: 'svelte-check',
    rerun: 'npm run typecheck:web',
    // svelte-kit sync writes .svelte-kit/tsconfig.json, which web/tsconfig.json extends.
    steps: [
      { bin: 'svelte-kit', args: ['sync'], cwd: 'web' },
      { bin: 'svelte-check', args: ['--tsconfig', './tsconfig.json', '--threshold', 'error'], cwd: 'web' },
    ],
  },
];

interface Outcome {
  check: Check;
  code: number;
  output: string;
  seconds: number;
}

/** Runs one step on this Node.js, its stdout and stderr gathered in the order they came. */
function runStep(step: Step, output: string[]): Promise<number> {
  const child = spawn(process.execPath, [path.join(root, 'node_modules/.bin', step.bin), ...step.args], {
    cwd: path.join(root, step.cwd ?? '.'),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Piped to be held, so colours are asked for explicitly when a terminal shows them (any FORCE_COLOR turns them on).
    env: process.stdout.isTTY ? { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '1' } : process.env,
  });
  child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
  return new Promise((resolve) => {
    child.once('error', (error) => {
      output.push(`${step.bin} could not start: ${error.message}\n`);
      resolve(1);
    });
    child.once('close', (code, signal) => {
      if (signal) output.push(`${step.bin} ended by ${signal}\n`);
      resolve(code ?? 1);
    });
  });
}

async function runCheck(check: Check): Promise<Outcome> {
  const started = performance.now();
  const output: string[] = [];
  let code = 0;
  for (const step of check.steps) {
    code = await runStep(step, output);
    if (code !== 0) break;
  }
  return { check, code, output: output.join(''), seconds: (performance.now() - started) / 1000 };
}

/** Prints an outcome as soon as it is known, in the order the checks end. */
function print(outcome: Outcome): void {
  const verdict = outcome.code === 0 ? 'passed' : `FAILED (exit ${outcome.code})`;
  process.stdout.write(`\n── ${outcome.check.name}: ${verdict} in ${outcome.seconds.toFixed(1)} s\n`);
  if (outcome.output.trim() !== '')
    process.stdout.write(outcome.output.endsWith('\n') ? outcome.output : `${outcome.output}\n`);
}

const only = process.argv.slice(2);
const checks = only.length === 0 ? CHECKS : CHECKS.filter((c) => only.includes(c.name));
const outcomes = await Promise.all(checks.map((check) => runCheck(check).then((outcome) => (print(outcome), outcome))));
const failed = outcomes.filter((o) => o.code !== 0);
process.stdout.write(
  `\nchecks: ${outcomes.map((o) => `${o.check.name} ${o.code === 0 ? 'ok' : 'FAILED'}`).join(', ')}\n`,
);
if (failed.length > 0) {
  process.stderr.write(
    `${failed.length} check(s) failed; see each one's output above, and run it alone with:\n${failed.map((o) => `  ${o.check.name}: ${o.check.rerun}`).join('\n')}\n`,
  );
  process.exit(1);
}
