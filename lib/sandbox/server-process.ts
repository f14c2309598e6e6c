/**
 * One sandboxed PostgreSQL server: initdb with a random scram-sha-256 superuser password, then
 * `postgres` itself as a long-lived child of the worker, listening only on a unix socket.
 *
 * The postmaster is spawned directly rather than through pg_ctl: pg_ctl forks it into the
 * background and returns, so under `bwrap --die-with-parent` it would die at once, and without
 * bwrap it would outlive a killed worker. As our own child it dies with the worker (bwrap's
 * --die-with-parent, or PR_SET_PDEATHSIG through setpriv), and destroy() knows its pid for sure.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { HindsightError, errorMessage } from '../errors.ts';
import { connect, type PgTarget } from '../pg/connection.ts';
import type { ServerBinaries } from './binaries.ts';
import type { ConfinementPlan } from './confinement.ts';
import { sandboxEnv } from './os-user.ts';
import { hasProc, processAlive } from './owner.ts';

const run = promisify(execFile);

/** The socket is `.s.PGSQL.<port>` in the socket directory: with no TCP listener any number will do. */
export const SANDBOX_PORT = 5432;

export const tail = (text: string): string => text.trim().split('\n').slice(-5).join(' | ');

/** Waits until the server answers a query: a listening socket is not proof that a client gets in. */
export async function waitUntilAccepting(
  target: PgTarget,
  options: {
    timeoutMs: number;
    signal?: AbortSignal | undefined;
    onCancel: () => Error;
    gone?: () => string | undefined;
  },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (options.signal?.aborted) throw options.onCancel();
    const exited = options.gone?.();
    if (exited !== undefined)
      throw new HindsightError('tool_failed', `the sandbox server exited before accepting connections: ${exited}`);
    try {
      const client = await connect('verification sandbox', target);
      try {
        await client.query('select 1');
        return;
      } finally {
        await client.end().catch(() => undefined);
      }
    } catch (error) {
      if (Date.now() > deadline) {
        throw new HindsightError(
          'tool_failed',
          `the sandbox server at ${target.host}:${target.port} did not accept connections within ${Math.round(options.timeoutMs / 1000)} s: ${errorMessage(error)}`,
          { cause: error },
        );
      }
    }
    await sleep(200);
  }
}

export interface SandboxPaths {
  dir: string;
  dataDir: string;
  socketDir: string;
  logFile: string;
}

/** initdb as the sandbox user, under the same confinement as the server; the password file is read once and removed by the caller. */
export async function initCluster(
  binaries: ServerBinaries,
  plan: ConfinementPlan,
  paths: SandboxPaths,
  pwfile: string,
  signal?: AbortSignal,
): Promise<void> {
  const [cmd, args] = plan.command({
    file: binaries.initdb,
    args: [
      '-D',
      paths.dataDir,
      '-U',
      'postgres',
      `--pwfile=${pwfile}`,
      '--auth=scram-sha-256',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ],
    writable: [paths.dataDir, paths.socketDir],
    installDir: path.dirname(binaries.dir),
    onWorkerDeath: 'KILL',
  });
  try {
    await run(cmd, args, {
      cwd: '/',
      env: sandboxEnv(),
      timeout: 120_000,
      maxBuffer: 4 * 1024 * 1024,
      ...(signal ? { signal } : {}),
    });
  } catch (error) {
    const err = error as { stderr?: string; message: string };
    throw new HindsightError('tool_failed', `initdb failed: ${tail(err.stderr || err.message)}`, { cause: error });
  }
}

/**
 * Starts the postmaster: unix socket only (listen_addresses empty), in the private socket
 * directory; its output goes to a log file the worker opened, which the server cannot reopen.
 */
export function launchPostmaster(binaries: ServerBinaries, plan: ConfinementPlan, paths: SandboxPaths): ChildProcess {
  const settings: Record<string, string> = {
    listen_addresses: '',
    unix_socket_directories: paths.socketDir,
    unix_socket_permissions: '0700',
    fsync: 'off',
    full_page_writes: 'off',
    synchronous_commit: 'off',
    logging_collector: 'off',
  };
  const [cmd, args] = plan.command({
    file: binaries.postgres,
    args: [
      '-D',
      paths.dataDir,
      '-p',
      String(SANDBOX_PORT),
      ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    writable: [paths.dataDir, paths.socketDir],
    installDir: path.dirname(binaries.dir),
    onWorkerDeath: 'QUIT',
  });
  const log = openSync(paths.logFile, 'a', 0o600);
  try {
    const child = spawn(cmd, args, { cwd: '/', env: sandboxEnv(), stdio: ['ignore', log, log] });
    child.on('error', () => undefined);
    return child;
  } finally {
    closeSync(log);
  }
}

export async function logTail(paths: SandboxPaths): Promise<string> {
  return tail(await readFile(paths.logFile, 'utf8').catch(() => ''));
}

async function exited(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (processAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Ends a process we started for a sandbox. Under bwrap SIGKILL takes the whole pid namespace (and
 * its System V memory, in its own IPC namespace) down at once; a bare postmaster gets SIGQUIT,
 * PostgreSQL's immediate shutdown, which also removes its shared memory.
 */
export async function stopProcess(pid: number, confinedByBwrap: boolean): Promise<void> {
  const signals: NodeJS.Signals[] = confinedByBwrap ? ['SIGKILL'] : ['SIGQUIT', 'SIGKILL'];
  for (const signal of signals) {
    sendSignal(pid, signal);
    if (await exited(pid, 5_000)) return;
  }
  throw new HindsightError('tool_failed', `the sandbox server (pid ${pid}) does not stop, even on SIGKILL`);
}

/** Whether `pid` is still a process of the sandbox in `dir`: a pid may have been reused since. */
export async function belongsToSandbox(pid: number, dir: string): Promise<boolean> {
  if (!processAlive(pid)) return false;
  if (!hasProc) return true;
  const resolved = await realpath(dir).catch(() => dir);
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv.some((arg) => arg.startsWith(`${dir}/`) || arg.startsWith(`${resolved}/`))) return true;
    // A postmaster started by an older Hindsight through pg_ctl: it changes into its data directory.
    return readlinkSync(`/proc/${pid}/cwd`).startsWith(`${resolved}/`);
  } catch {
    return false;
  }
}

/** The pid in postmaster.pid: the host's pid for a bare server, a namespace-local one under bwrap. */
export async function postmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(
      (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '',
      10,
    );
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
