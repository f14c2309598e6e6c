/**
 * Runs of supervised children: a child process (waited for), or a daemon's pid (watched).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, createWriteStream, constants } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Logger } from '../logger.ts';
import { processAlive } from './process-alive.ts';
import type { ChildRun, ExitInfo } from './supervisor.ts';

const SETPRIV = '/usr/bin/setpriv';

function hasSetpriv(): boolean {
  try {
    accessSync(SETPRIV, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const setprivAvailable = hasSetpriv();

/**
 * `file args` run so that the kernel sends it SIGTERM when the supervisor dies, even by SIGKILL
 * (util-linux's setpriv sets the parent-death signal, then execs it in its place: same pid).
 * Without setpriv the child outlives a killed supervisor, until the next start.
 */
export function boundToParent(file: string, args: readonly string[]): [string, string[]] {
  return setprivAvailable ? [SETPRIV, ['--pdeathsig', 'SIGTERM', '--', file, ...args]] : [file, [...args]];
}

/** Spawns a child in a process group of its own (Ctrl-C reaches only the supervisor, which stops it in order). */
export function spawnBound(file: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const [cmd, cmdArgs] = boundToParent(file, args);
  return spawn(cmd, cmdArgs, { ...options, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
}

/** Each line of the child's output on our stdout behind its name, and in its log file. */
export function prefixOutput(name: string, child: ChildProcess, logFile: string): void {
  const file = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  file.on('error', () => undefined);
  let open = 2;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream })
      .on('line', (line) => {
        process.stdout.write(`${`[${name}]`.padEnd(11)}${line}\n`);
        file.write(`${line}\n`);
      })
      .on('close', () => {
        if (--open === 0) file.end();
      });
  }
}

function exitOf(child: ChildProcess): Promise<ExitInfo> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ note: `could not run: ${error.message}` }));
  });
}

/** A child process as a run: stopped by `signal`, then SIGKILL after `graceMs`. */
export function processRun(name: string, child: ChildProcess, log: Logger, graceMs: number): ChildRun {
  const exited = exitOf(child);
  return {
    pid: child.pid,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => {
        log.warn(`${name} did not stop within ${graceMs / 1000} s; killing it`);
        child.kill('SIGKILL');
      }, graceMs);
      child.kill(signal);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A daemon that is not our child (pg_ctl starts PostgreSQL detached): its end is seen by looking
 * at its pid every `pollMs`, and it is stopped by `stop`.
 */
export function watchedRun(pid: number, stop: () => Promise<void>, pollMs = 500): ChildRun {
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    const look = async () => {
      if (await processAlive(pid)) timer = setTimeout(() => void look(), pollMs);
      else resolve({ note: `(pid ${pid}) is gone` });
    };
    timer = setTimeout(() => void look(), pollMs);
  });
  return {
    pid,
    exited,
    async stop() {
      await stop();
      await exited;
      clearTimeout(timer);
    },
  };
}
