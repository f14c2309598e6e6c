/** The worker as `npm start` runs it (worker/main.ts on this Node, with tsx), its JSON log lines kept for the test. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface WorkerProcess {
  child: ChildProcess;
  /** Every stdout line, parsed where it is JSON. */
  logs: Array<Record<string, unknown>>;
  stderr: string[];
  /** The first log entry whose `msg` is `message`. */
  entry(message: string): Record<string, unknown> | undefined;
  stop(): Promise<void>;
}

/**
 * Starts the worker with `args` (e.g. `--agent db1`) and resolves once it logs "worker ready";
 * rejects with its output if it exits or takes too long.
 */
export async function startWorkerProcess(
  env: Record<string, string | undefined>,
  readyWithinMs = 120_000,
  args: string[] = [],
): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'worker/main.ts'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HINDSIGHT_LOG_PRETTY: '0', ...env },
  });
  const logs: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  const stdout: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const worker: WorkerProcess = {
    child,
    logs,
    stderr,
    entry: (message) => logs.find((l) => l.msg === message),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
  await new Promise<void>((resolve, reject) => {
    const output = () => [...stdout, ...stderr].join('\n');
    const timer = setTimeout(
      () => reject(new Error(`worker not ready within ${readyWithinMs / 1000} s:\n${output()}`)),
      readyWithinMs,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the worker exited (${code}):\n${output()}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdout.push(line);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
      if (line.includes('"worker ready"')) {
        clearTimeout(timer);
        resolve();
      }
    });
  }).catch(async (error: unknown) => {
    await worker.stop();
    throw error;
  });
  return worker;
}
