/** The `hindsight` command's wall time on a platform: `--help` and `db list`, medians, beside their targets. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { targetUrl } from '../../lib/pg/connection.ts';
import { createDatabase, type Platform } from '../../test/support/platform.ts';
import { envInt, log, median } from '../settings.ts';

const run = promisify(execFile);
// BENCH_CLI_BIN: another checkout's bin/hindsight.mjs, to compare two versions on the same platform.
const cli = path.resolve(process.env.BENCH_CLI_BIN || 'bin/hindsight.mjs');

interface CliTiming {
  command: string;
  medianSeconds: number;
  /** User + system CPU time, median: what the command costs apart from waiting for a busy machine. */
  medianCpuSeconds: number;
  runs: number[];
  targetSeconds: number;
}

const cases: Array<{ args: string[]; targetSeconds: number }> = [
  { args: ['--help'], targetSeconds: 0.3 },
  { args: ['db', 'list'], targetSeconds: 0.8 },
];

/** bash's `times` prints the CPU time of the shell's children on its second line: "0m1.020s 0m0.180s". */
const cpuSeconds = (times: string): number =>
  (times.trim().split('\n')[1] ?? '')
    .split(' ')
    .map((t) => /(\d+)m([\d.]+)s/.exec(t))
    .reduce((sum, m) => sum + (m ? Number(m[1]) * 60 + Number(m[2]) : 0), 0);

async function timeRuns(args: string[], env: NodeJS.ProcessEnv, runs: number) {
  const wall: number[] = [];
  const cpu: number[] = [];
  // One run first that is not counted: the file system cache is then as warm as a person's second try.
  for (let i = 0; i <= runs; i += 1) {
    const started = process.hrtime.bigint();
    const { stdout } = await run('bash', ['-c', '"$@" >/dev/null; times', 'time', process.execPath, cli, ...args], {
      env,
    });
    if (i === 0) continue;
    wall.push(Number(process.hrtime.bigint() - started) / 1e9);
    cpu.push(cpuSeconds(stdout));
  }
  return { wall, cpu };
}

/** Registers one database (so that `db list` prints a row), then times each command and prints the medians. */
export async function measureCliTimings(platform: Platform): Promise<CliTiming[]> {
  const runs = envInt('BENCH_CLI_RUNS', 7);
  const source = await createDatabase(platform.cluster, 'cli_bench');
  await platform.ops.addDatabase({ name: 'cli_bench', url: targetUrl(source), storages: 'local' });
  const env = { ...process.env, ...platform.configEnv };
  const timings: CliTiming[] = [];
  for (const c of cases) {
    const { wall, cpu } = await timeRuns(c.args, env, runs);
    timings.push({
      command: `hindsight ${c.args.join(' ')}`,
      medianSeconds: median(wall),
      medianCpuSeconds: median(cpu),
      runs: wall,
      targetSeconds: c.targetSeconds,
    });
  }
  log(`CLI wall time, median of ${runs} runs:`);
  for (const t of timings) {
    const verdict = t.medianSeconds <= t.targetSeconds ? 'ok' : 'TARGET MISSED';
    log(
      `  ${t.command.padEnd(18)} ${t.medianSeconds.toFixed(3)} s wall (target ≤ ${t.targetSeconds} s: ${verdict}), ${t.medianCpuSeconds.toFixed(3)} s CPU; runs ${t.runs.map((s) => s.toFixed(2)).join(' ')}`,
    );
  }
  return timings;
}
