/**
 * How long `worker/main.ts` takes from process start to polling ("worker ready" is logged right
 * before `worker.run()`), and its resident memory then and at its peak, on each Node.js runtime
 * and loader given. Runs against a real catalog PostgreSQL and Temporal dev server.
 * Environment: BENCH_ROUNDS (default 3), BENCH_RUNTIMES (semicolon-separated
 * `label=node-binary arg arg`, default: this node stripping the types itself,
 * against the tsx loader the project used before).
 *
 *   scripts/scripts/node bench/worker-start.ts
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startPlatform } from '../test/support/platform.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const runtimes = (process.env.BENCH_RUNTIMES ?? `native=${process.execPath};tsx=${process.execPath} --import tsx`)
  .split(';')
  .map((spec) => {
    const [label, command] = spec.split('=') as [string, string];
    const [node, ...args] = command.trim().split(/\s+/) as [string, ...string[]];
    return { label, node, args };
  });

const kib = (status: string, field: string): number =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);

/** One start: ms to "worker ready", RSS then (MiB), and the peak RSS 3 s later. */
function startOnce(
  node: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ ms: number; rssMib: number; peakMib: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(node, [...args, path.join(root, 'worker/main.ts')], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('exit', (code) =>
      reject(new Error(`worker exited (${code}) before it was ready: ${stderr.slice(-2000)}`)),
    );
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.includes('worker ready')) return;
      const ms = performance.now() - started;
      const rssMib = kib(readFileSync(`/proc/${child.pid}/status`, 'utf8'), 'VmRSS') / 1024;
      setTimeout(() => {
        const peakMib = kib(readFileSync(`/proc/${child.pid}/status`, 'utf8'), 'VmHWM') / 1024;
        child.removeAllListeners('exit');
        child.once('exit', () => resolve({ ms, rssMib, peakMib }));
        child.kill('SIGTERM');
      }, 3000);
    });
  });
}

const platform = await startPlatform();
try {
  const env = { ...process.env, ...platform.configEnv, HINDSIGHT_LOG_PRETTY: '0', HINDSIGHT_SANDBOX_DRIVER: 'process' };
  for (const { label, node, args } of runtimes) {
    const results = [];
    for (let i = 0; i < rounds; i += 1) results.push(await startOnce(node, args, env));
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    console.log(
      JSON.stringify({
        label,
        version,
        rounds,
        readyMs: Math.round(median(results.map((r) => r.ms))),
        rssMib: Math.round(median(results.map((r) => r.rssMib))),
        peakRssMib: Math.round(median(results.map((r) => r.peakMib))),
      }),
    );
  }
} finally {
  await platform.stop();
}
