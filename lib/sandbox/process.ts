import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, readdir, realpath, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { z } from 'zod';
import { HindsightError, errorMessage } from '../errors.ts';
import { freePort } from '../net/free-port.ts';
import { connect, type PgTarget } from '../pg/connection.ts';
import { serverBinaries } from './binaries.ts';
import type { Sandbox, SandboxCreateOptions, SandboxDriver } from './contract.ts';

const run = promisify(execFile);

// ---------------------------------------------------------------------------------------------
// Who owns a sandbox. A pid alone is not enough: after a restart (a container's pid 1, a worker
// under systemd) the same pid comes back, so the owner is recorded with the process's start time.

export interface SandboxOwner {
  host: string;
  pid: number;
  /** Identifies one incarnation of `pid`: boot id and start time on Linux. */
  start: string | null;
}

const hasProc = existsSync('/proc/self/stat');

function procStat(pid: number): { state: string; startTicks: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; the fields after it do not.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', startTicks: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

let bootId: string | undefined;
function linuxStartToken(pid: number): string | null {
  const info = procStat(pid);
  if (!info) return null;
  bootId ??= (() => {
    try {
      return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      return '';
    }
  })();
  return `${bootId}/${info.startTicks}`;
}

let ownStart: string | null | undefined;
export function currentOwner(): SandboxOwner {
  ownStart ??= hasProc ? linuxStartToken(process.pid) : `t${Math.round(performance.timeOrigin)}`;
  return { host: os.hostname(), pid: process.pid, start: ownStart };
}

/** True for a running process; a zombie (killed, not yet reaped) counts as gone. */
export function processAlive(pid: number): boolean {
  if (hasProc) {
    const info = procStat(pid);
    return info !== undefined && info.state !== 'Z' && info.state !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process that made a sandbox still runs. Another host's processes cannot be judged: they count as alive. */
export function ownerIsAlive(owner: SandboxOwner): boolean {
  const self = currentOwner();
  if (owner.host !== self.host) return true;
  if (owner.pid === self.pid) return owner.start === self.start;
  if (!processAlive(owner.pid)) return false;
  const now = hasProc ? linuxStartToken(owner.pid) : null;
  return owner.start === null || now === null || owner.start === now;
}

// ---------------------------------------------------------------------------------------------
// Running server binaries. PostgreSQL refuses to run as root, so as root it runs as the same
// unprivileged user as lib/pg/cluster.ts (HINDSIGHT_PG_OS_USER, default `postgres`).

const serverOsUser = (): string => process.env.HINDSIGHT_PG_OS_USER ?? 'postgres';
const runningAsRoot = (): boolean => process.getuid?.() === 0;

function serverCommand(file: string, args: string[]): [string, string[]] {
  return runningAsRoot() ? ['runuser', ['-u', serverOsUser(), '--', file, ...args]] : [file, args];
}

const tail = (text: string): string => text.trim().split('\n').slice(-5).join(' | ');

function cancelled(major: number): HindsightError {
  return new HindsightError('tool_failed', `creation of the PostgreSQL ${major} sandbox was cancelled`);
}

async function runServerTool(file: string, args: string[], options: { cwd: string; timeoutMs: number; signal?: AbortSignal | undefined }): Promise<void> {
  const [cmd, cmdArgs] = serverCommand(file, args);
  try {
    await run(cmd, cmdArgs, { cwd: options.cwd, timeout: options.timeoutMs, maxBuffer: 4 * 1024 * 1024, ...(options.signal ? { signal: options.signal } : {}) });
  } catch (error) {
    const err = error as { stderr?: string; message: string };
    throw new HindsightError('tool_failed', `${path.basename(file)} failed: ${tail(err.stderr || err.message)}`, { cause: error });
  }
}

let serverIds: Promise<{ uid: number; gid: number }> | undefined;
function serverUserIds(): Promise<{ uid: number; gid: number }> {
  serverIds ??= (async () => {
    const user = serverOsUser();
    const { stdout: uid } = await run('id', ['-u', user]).catch(() => {
      throw new HindsightError('not_found', `running as root, PostgreSQL must run as user "${user}", which does not exist: run 'npm run setup' or 'useradd --system ${user}'`);
    });
    const { stdout: gid } = await run('id', ['-g', user]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  })();
  serverIds.catch(() => { serverIds = undefined; });
  return serverIds;
}

async function handToServerUser(dir: string): Promise<void> {
  if (!runningAsRoot()) return;
  const { uid, gid } = await serverUserIds();
  await chown(dir, uid, gid);
}


/** pg_ctl hands `-o` to /bin/sh: every word is single-quoted. */
const shellQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/** Waits until the server answers a query: pg_ctl's readiness is not proof that a client gets in. */
export async function waitUntilAccepting(target: PgTarget, options: { timeoutMs: number; signal?: AbortSignal | undefined; onCancel: () => Error }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (options.signal?.aborted) throw options.onCancel();
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
        throw new HindsightError('tool_failed', `the sandbox server at ${target.host}:${target.port} did not accept connections within ${Math.round(options.timeoutMs / 1000)} s: ${errorMessage(error)}`, { cause: error });
      }
    }
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------
// Stopping whatever runs from a sandbox directory, from its postmaster.pid alone.

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** A stale postmaster.pid may name a pid since reused: only a process working in this data directory is ours. */
async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  if (!processAlive(pid)) return false;
  if (!hasProc) return true;
  const resolved = await realpath(dataDir).catch(() => dataDir);
  try {
    // The postmaster changes into its data directory at start.
    return readlinkSync(`/proc/${pid}/cwd`) === resolved;
  } catch {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg === dataDir || arg === resolved);
    } catch {
      return false;
    }
  }
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

async function stopPostmaster(dir: string, pgCtl: string | undefined): Promise<void> {
  const dataDir = path.join(dir, 'data');
  const pid = await postmasterPid(dataDir);
  if (pid === undefined || !(await isPostmasterOf(pid, dataDir))) return;
  if (pgCtl) {
    await runServerTool(pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '15', '-s'], { cwd: '/', timeoutMs: 30_000 }).catch(() => undefined);
    if (await exited(pid, 2_000)) return;
  }
  // SIGQUIT is PostgreSQL's immediate shutdown; SIGKILL when even that is ignored.
  for (const signal of ['SIGQUIT', 'SIGKILL'] as const) {
    sendSignal(pid, signal);
    if (await exited(pid, 5_000)) return;
  }
  throw new HindsightError('tool_failed', `the sandbox server (pid ${pid}) in ${dir} does not stop, even on SIGKILL`);
}

async function removeSandboxDir(dir: string, pgCtl: string | undefined): Promise<void> {
  await stopPostmaster(dir, pgCtl);
  // Orphaned server children may still write for a moment after a kill: retry on ENOTEMPTY.
  await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

/** Sandboxes of this process still standing: a normal exit takes them down (a crash leaves them to sweepLeftovers). */
const live = new Map<string, string>();
let exitHookInstalled = false;
function trackLive(dir: string, pgCtl: string): void {
  live.set(dir, pgCtl);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [liveDir, liveCtl] of live) {
      const [cmd, args] = serverCommand(liveCtl, ['stop', '-D', path.join(liveDir, 'data'), '-m', 'immediate', '-w', '-t', '10', '-s']);
      spawnSync(cmd, args, { stdio: 'ignore', cwd: '/' });
      rmSync(liveDir, { recursive: true, force: true, maxRetries: 3 });
    }
  });
}

// ---------------------------------------------------------------------------------------------

const ownerFileSchema = z.object({
  id: z.string(),
  host: z.string(),
  pid: z.number().int().positive(),
  start: z.string().nullable(),
  port: z.number().int().nullable(),
  major: z.number().int(),
  label: z.string(),
  createdAt: z.string(),
});
export type SandboxOwnerFile = z.infer<typeof ownerFileSchema>;

async function readOwnerFile(dir: string): Promise<SandboxOwnerFile | undefined> {
  try {
    const parsed = ownerFileSchema.safeParse(JSON.parse(await readFile(path.join(dir, 'owner.json'), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A directory without a readable owner.json may be one being created right now: it is left alone this long. */
const UNOWNED_GRACE_MS = 60_000;
/**
 * Containers sharing one data volume see each other's sandboxes but cannot look at each other's
 * processes: another host's sandbox is live while its owner keeps touching its owner.json.
 */
const HEARTBEAT_MS = 60_000;
const FOREIGN_STALE_MS = 10 * 60_000;
const SANDBOX_DIR = /^sbx-([a-z0-9]+)$/;

export const defaultSandboxRoot = (): string => path.join(os.tmpdir(), 'hindsight-sandboxes');

export interface ProcessSandboxOptions {
  /** Where sandbox directories go; default `<tmpdir>/hindsight-sandboxes`. */
  root?: string;
}

/**
 * Sandboxes as PostgreSQL servers run directly on this machine, from server binaries of exactly
 * the backup's major version. Each lives in `<root>/sbx-<id>`: `data/`, the server log, its unix
 * socket and `owner.json`, which lets a later sweep tell a live sandbox from one whose worker died.
 */
export function createProcessSandboxDriver(options: ProcessSandboxOptions = {}): SandboxDriver {
  const root = path.resolve(options.root ?? defaultSandboxRoot());

  let rootReady: Promise<void> | undefined;
  const prepareRoot = (): Promise<void> => {
    rootReady ??= (async () => {
      const created = await mkdir(root, { recursive: true, mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
        throw new HindsightError(error.code === 'ENOSPC' ? 'no_space' : 'access_denied', `cannot create the sandbox root ${root} (${error.code ?? errorMessage(error)}): choose another sandbox root or fix its permissions`, { cause: error });
      });
      if (!runningAsRoot()) return;
      // Only a directory made here is handed over: chowning an existing one (say, /tmp) would be a surprise.
      if (created !== undefined) {
        await handToServerUser(root);
        await chmod(root, 0o700);
      }
      try {
        await run('runuser', ['-u', serverOsUser(), '--', 'test', '-w', root, '-a', '-x', root]);
      } catch {
        throw new HindsightError('access_denied', `sandboxes run as user "${serverOsUser()}" (PostgreSQL refuses root), who cannot write to ${root}: chown it to that user and make its parents traversable (chmod o+x), or choose another sandbox root`);
      }
    })();
    rootReady.catch(() => { rootReady = undefined; });
    return rootReady;
  };

  async function create(createOptions: SandboxCreateOptions): Promise<Sandbox> {
    const { major, label, signal } = createOptions;
    if (signal?.aborted) throw cancelled(major);
    const binaries = await serverBinaries(major);
    await prepareRoot();

    const id = randomBytes(6).toString('hex');
    const dir = path.join(root, `sbx-${id}`);
    const dataDir = path.join(dir, 'data');
    const logFile = path.join(dir, 'server.log');
    // sun_path holds 107 bytes: a deep root cannot hold the server's socket.
    if (Buffer.byteLength(path.join(dir, '.s.PGSQL.65535')) > 107) {
      throw new HindsightError('bad_input', `sandbox root ${root} is too deep for a unix socket path inside it: choose a shorter one`);
    }
    const owner = currentOwner();
    const createdAt = new Date().toISOString();
    const writeOwner = (port: number | null) => {
      const record: SandboxOwnerFile = { id, host: owner.host, pid: owner.pid, start: owner.start, port, major, label, createdAt };
      return writeFile(path.join(dir, 'owner.json'), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
    };

    await mkdir(dir, { mode: 0o700 });
    trackLive(dir, binaries.pgCtl);
    try {
      await writeOwner(null);
      await handToServerUser(dir);
      const tool = (file: string, args: string[], timeoutMs: number) => runServerTool(file, args, { cwd: dir, timeoutMs, signal }).catch((error: unknown) => {
        throw signal?.aborted ? cancelled(major) : error;
      });
      // A sandbox is thrown away after one restore: no durability, trust on loopback only.
      await tool(binaries.initdb, ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], 120_000);

      let port = 0;
      for (let attempt = 1; ; attempt++) {
        if (signal?.aborted) throw cancelled(major);
        port = await freePort();
        await writeOwner(port);
        await rm(logFile, { force: true });
        const settings = {
          fsync: 'off',
          full_page_writes: 'off',
          synchronous_commit: 'off',
          listen_addresses: '127.0.0.1',
          unix_socket_directories: dir,
        };
        const serverOptions = ['-p', String(port), ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])];
        try {
          await tool(binaries.pgCtl, ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-s', '-o', serverOptions.map(shellQuote).join(' ')], 90_000);
          break;
        } catch (error) {
          const log = await readFile(logFile, 'utf8').catch(() => '');
          // Another process may take the free port before the server binds it: try another.
          if (attempt < 5 && /could not bind|Address already in use|could not create any TCP\/IP sockets/i.test(log)) {
            await stopPostmaster(dir, binaries.pgCtl);
            continue;
          }
          if (signal?.aborted) throw cancelled(major);
          throw new HindsightError('tool_failed', `the PostgreSQL ${major} sandbox did not start on port ${port}: ${tail(log) || errorMessage(error)}`, { cause: error });
        }
      }

      const target: PgTarget = { host: '127.0.0.1', port, database: 'postgres', user: 'postgres' };
      await waitUntilAccepting(target, { timeoutMs: 30_000, signal, onCancel: () => cancelled(major) });

      const ownerFile = path.join(dir, 'owner.json');
      const heartbeat = setInterval(() => {
        const now = new Date();
        utimes(ownerFile, now, now).catch(() => undefined);
      }, HEARTBEAT_MS);
      heartbeat.unref();
      let destroying: Promise<void> | undefined;
      return {
        id,
        driver: 'process',
        major: binaries.major,
        target,
        dataDir,
        destroy() {
          clearInterval(heartbeat);
          destroying ??= removeSandboxDir(dir, binaries.pgCtl).then(() => { live.delete(dir); });
          // A failed attempt may be retried by calling again.
          destroying.catch(() => { destroying = undefined; });
          return destroying;
        },
      };
    } catch (error) {
      await removeSandboxDir(dir, binaries.pgCtl).then(() => live.delete(dir)).catch(() => undefined);
      throw error;
    }
  }

  async function sweepLeftovers(): Promise<{ removed: string[] }> {
    let names: string[];
    try {
      names = await readdir(root);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { removed: [] };
      throw error;
    }
    const removed: string[] = [];
    const failures: string[] = [];
    for (const name of names.sort()) {
      const id = SANDBOX_DIR.exec(name)?.[1];
      if (!id) continue;
      const dir = path.join(root, name);
      if (live.has(dir)) continue;
      const owner = await readOwnerFile(dir);
      const changedWithin = async (file: string, ms: number) => {
        const info = await stat(file).catch(() => undefined);
        return !info || Date.now() - info.mtimeMs < ms;
      };
      if (owner) {
        const alive = owner.host === os.hostname() ? ownerIsAlive(owner) : await changedWithin(path.join(dir, 'owner.json'), FOREIGN_STALE_MS);
        if (alive) continue;
      } else if (await changedWithin(dir, UNOWNED_GRACE_MS)) {
        continue;
      }
      const major = owner?.major ?? Number.parseInt(await readFile(path.join(dir, 'data', 'PG_VERSION'), 'utf8').catch(() => ''), 10);
      // Without binaries of that major pg_ctl is skipped: the postmaster is then signalled directly.
      const pgCtl = Number.isInteger(major) ? (await serverBinaries(major).catch(() => undefined))?.pgCtl : undefined;
      try {
        await removeSandboxDir(dir, pgCtl);
        removed.push(id);
      } catch (error) {
        failures.push(`${dir}: ${errorMessage(error)}`);
      }
    }
    if (failures.length > 0) {
      throw new HindsightError('tool_failed', `could not remove ${failures.length} leftover sandbox(es): ${failures.join('; ')}${removed.length ? ` (removed: ${removed.join(', ')})` : ''}`);
    }
    return { removed };
  }

  return { name: 'process', create, sweepLeftovers };
}
