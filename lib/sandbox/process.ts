import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { HindsightError, errorMessage } from '../errors.ts';
import type { PgTarget } from '../pg/connection.ts';
import { serverBinaries, serverBinariesForSource, type ServerBinaries } from './binaries.ts';
import { confinementFor, type ConfinementPlan } from './confinement.ts';
import type { Sandbox, SandboxConfinement, SandboxCreateOptions, SandboxDriver } from './contract.ts';
import { canSwitchUser, sandboxOsUser, sandboxUserIds } from './os-user.ts';
import { currentOwner, ownerIsAlive } from './owner.ts';
import {
  SANDBOX_PORT,
  belongsToSandbox,
  initCluster,
  launchPostmaster,
  logTail,
  postmasterPid,
  stopProcess,
  waitUntilAccepting,
  type SandboxPaths,
} from './server-process.ts';

export { currentOwner, ownerIsAlive, processAlive, type SandboxOwner } from './owner.ts';
export { waitUntilAccepting } from './server-process.ts';

const run = promisify(execFile);

function cancelled(major: number): HindsightError {
  return new HindsightError('tool_failed', `creation of the PostgreSQL ${major} sandbox was cancelled`);
}

// ---------------------------------------------------------------------------------------------
// Stopping whatever runs from a sandbox directory, from what it recorded.

/** Stops the server a sandbox directory names (its owner.json's serverPid, else its postmaster.pid), if still its own. */
async function stopServerOf(dir: string, serverPid: number | undefined, bwrap: boolean): Promise<void> {
  if (serverPid !== undefined && (await belongsToSandbox(serverPid, dir))) await stopProcess(serverPid, bwrap);
  // A bare postmaster (or one started by an older Hindsight with pg_ctl) recorded its host pid here.
  const pid = await postmasterPid(path.join(dir, 'data'));
  if (pid !== undefined && (await belongsToSandbox(pid, dir))) await stopProcess(pid, false);
}

async function removeSandboxDir(dir: string, serverPid: number | undefined, bwrap: boolean): Promise<void> {
  await stopServerOf(dir, serverPid, bwrap);
  // Children of a killed server may still write for a moment: retry on ENOTEMPTY.
  await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

/** Sandboxes of this process still standing: a normal exit takes them down (a crash takes them with it: see server-process.ts). */
const live = new Map<string, ChildProcess | undefined>();
let exitHookInstalled = false;
function trackLive(dir: string, child: ChildProcess | undefined): void {
  live.set(dir, child);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [liveDir, liveChild] of live) {
      if (liveChild?.pid !== undefined && liveChild.exitCode === null) {
        try {
          process.kill(liveChild.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
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
  /** The process the worker started for the server (bwrap, or the postmaster itself). */
  serverPid: z.number().int().positive().optional(),
  confinement: z.enum(['bwrap', 'os-user', 'none']).optional(),
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

/** A directory only the sandbox user can use (the worker, as root, still reaches it). */
async function privateToSandboxUser(dir: string): Promise<void> {
  await mkdir(dir, { mode: 0o700 });
  if (!canSwitchUser()) return;
  const { uid, gid } = await sandboxUserIds();
  await chown(dir, uid, gid);
}

/**
 * The root holds one directory per sandbox (and PITR restores): it belongs to the worker and is
 * traversable (0711) but not listable or writable by the sandbox user.
 */
async function prepareRoot(root: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o711 }).catch((error: NodeJS.ErrnoException) => {
    throw new HindsightError(
      error.code === 'ENOSPC' ? 'no_space' : 'access_denied',
      `cannot create the sandbox root ${root} (${error.code ?? errorMessage(error)}): choose another sandbox root or fix its permissions`,
      { cause: error },
    );
  });
  if (!canSwitchUser()) return;
  const { uid, gid } = await sandboxUserIds();
  const canEnter = () =>
    run('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', 'test', '-x', root]).then(
      () => true,
      () => false,
    );
  if (await canEnter()) return;
  // A root made 0700 by another part of the worker, or handed to the `postgres` user by an older
  // Hindsight, is opened to traversal only: it holds nothing but per-sandbox directories.
  const info = await stat(root);
  await chmod(root, (info.mode & 0o777) | 0o011);
  if (!(await canEnter())) {
    throw new HindsightError(
      'access_denied',
      `sandboxes run as OS user "${sandboxOsUser()}", who cannot reach ${root}: make it and its parents traversable (chmod o+x), or choose another sandbox root`,
    );
  }
}

/** initdb with a random superuser password, given through a file only the sandbox user can read and removed at once. */
async function initialise(
  binaries: ServerBinaries,
  plan: ConfinementPlan,
  paths: SandboxPaths,
  signal: AbortSignal | undefined,
): Promise<string> {
  const password = randomBytes(24).toString('base64url');
  const pwfile = path.join(paths.socketDir, 'superuser.pw');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  try {
    if (canSwitchUser()) {
      const { uid, gid } = await sandboxUserIds();
      await chown(pwfile, uid, gid);
    }
    await initCluster(binaries, plan, paths, pwfile, signal);
  } finally {
    await rm(pwfile, { force: true });
  }
  return password;
}

async function waitForServer(
  started: ChildProcess,
  admin: PgTarget,
  paths: SandboxPaths,
  major: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  let exit: string | undefined;
  started.once('exit', (code, sig) => {
    exit = sig ? `signal ${sig}` : `exit ${code}`;
  });
  try {
    await waitUntilAccepting(admin, { timeoutMs: 60_000, signal, onCancel: () => cancelled(major), gone: () => exit });
  } catch (error) {
    if (signal?.aborted) throw cancelled(major);
    throw new HindsightError(
      'tool_failed',
      `the PostgreSQL ${major} sandbox did not start: ${(await logTail(paths)) || errorMessage(error)}`,
      { cause: error },
    );
  }
}

function sandboxPaths(root: string, id: string): SandboxPaths {
  const dir = path.join(root, `sbx-${id}`);
  const paths: SandboxPaths = {
    dir,
    dataDir: path.join(dir, 'data'),
    socketDir: path.join(dir, 'socket'),
    logFile: path.join(dir, 'server.log'),
  };
  // sun_path holds 107 bytes: a deep root cannot hold the server's socket.
  if (Buffer.byteLength(path.join(paths.socketDir, `.s.PGSQL.${SANDBOX_PORT}.lock`)) > 107) {
    throw new HindsightError(
      'bad_input',
      `sandbox root ${root} is too deep for a unix socket path inside it: choose a shorter one`,
    );
  }
  return paths;
}

/** Writes the sandbox's owner.json: who made it, for a later sweep; again with the server's pid once it runs. */
interface OwnerOf {
  id: string;
  major: number;
  label: string;
  confinement: ConfinementPlan['kind'];
}

function ownerWriter(dir: string, sandbox: OwnerOf) {
  const owner = currentOwner();
  const createdAt = new Date().toISOString();
  const { id, major, label, confinement } = sandbox;
  return (serverPid?: number) => {
    const record: SandboxOwnerFile = {
      id,
      host: owner.host,
      pid: owner.pid,
      start: owner.start,
      port: SANDBOX_PORT,
      major,
      label,
      createdAt,
      confinement,
      ...(serverPid ? { serverPid } : {}),
    };
    return writeFile(path.join(dir, 'owner.json'), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o644 });
  };
}

interface ServerStart {
  binaries: ServerBinaries;
  plan: ConfinementPlan;
  paths: SandboxPaths;
  /** The source's major, for messages. */
  major: number;
  signal: AbortSignal | undefined;
  writeOwner: (serverPid?: number) => Promise<void>;
  /** Set as soon as the server process exists, so that a failure stops it. */
  server: { child?: ChildProcess };
}

/** The sandbox user's directories, initdb, the postmaster; returns the superuser's way in once it accepts. */
async function startServer(start: ServerStart): Promise<PgTarget> {
  const { binaries, plan, paths, major, signal, writeOwner, server } = start;
  await privateToSandboxUser(paths.dataDir);
  await privateToSandboxUser(paths.socketDir);
  const password = await initialise(binaries, plan, paths, signal).catch((error: unknown) => {
    throw signal?.aborted ? cancelled(major) : error;
  });
  if (signal?.aborted) throw cancelled(major);

  const started = launchPostmaster(binaries, plan, paths);
  server.child = started;
  trackLive(paths.dir, started);
  if (started.pid !== undefined) await writeOwner(started.pid);
  const admin: PgTarget = {
    host: paths.socketDir,
    port: SANDBOX_PORT,
    database: 'postgres',
    user: 'postgres',
    password,
  };
  await waitForServer(started, admin, paths, major, signal);
  return admin;
}

/** The running sandbox: its owner.json is touched while it lives, so that other hosts see it is in use. */
function liveSandbox(
  id: string,
  binaries: ServerBinaries,
  plan: ConfinementPlan,
  paths: SandboxPaths,
  admin: PgTarget,
  cleanUp: () => Promise<void>,
): Sandbox {
  const ownerFile = path.join(paths.dir, 'owner.json');
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
    admin,
    confinement: plan.kind,
    confinementDetail: plan.detail,
    dataDir: paths.dataDir,
    destroy() {
      clearInterval(heartbeat);
      destroying ??= cleanUp();
      // A failed attempt may be retried by calling again.
      destroying.catch(() => {
        destroying = undefined;
      });
      return destroying;
    },
  };
}

async function createSandbox(
  root: string,
  ensureRoot: () => Promise<void>,
  createOptions: SandboxCreateOptions,
): Promise<Sandbox> {
  const { major, label, signal } = createOptions;
  if (signal?.aborted) throw cancelled(major);
  // A dump loads into its own major or a newer one: `major` is the source's.
  const binaries = await serverBinariesForSource(major);
  const plan = await confinementFor(binaries.postgres, path.dirname(binaries.dir));
  await ensureRoot();

  const id = randomBytes(6).toString('hex');
  const paths = sandboxPaths(root, id);
  const { dir } = paths;
  const writeOwner = ownerWriter(dir, { id, major, label, confinement: plan.kind });

  await mkdir(dir, { mode: 0o711 });
  trackLive(dir, undefined);
  const server: { child?: ChildProcess } = {};
  const bwrap = plan.kind === 'bwrap';
  const cleanUp = () =>
    removeSandboxDir(dir, server.child?.pid, bwrap).then(() => {
      live.delete(dir);
    });
  try {
    await writeOwner();
    const admin = await startServer({ binaries, plan, paths, major, signal, writeOwner, server });
    return liveSandbox(id, binaries, plan, paths, admin, cleanUp);
  } catch (error) {
    await cleanUp().catch(() => undefined);
    throw error;
  }
}

async function isLeftover(dir: string, owner: SandboxOwnerFile | undefined): Promise<boolean> {
  const changedWithin = async (file: string, ms: number) => {
    const info = await stat(file).catch(() => undefined);
    return !info || Date.now() - info.mtimeMs < ms;
  };
  if (owner)
    return owner.host === os.hostname()
      ? !ownerIsAlive(owner)
      : !(await changedWithin(path.join(dir, 'owner.json'), FOREIGN_STALE_MS));
  return !(await changedWithin(dir, UNOWNED_GRACE_MS));
}

async function sweepLeftovers(root: string): Promise<{ removed: string[] }> {
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
    if (!(await isLeftover(dir, owner))) continue;
    try {
      // Only another host's sandbox can still run here: one of ours died with its worker.
      await removeSandboxDir(
        dir,
        owner?.host === os.hostname() ? owner.serverPid : undefined,
        owner?.confinement === 'bwrap',
      );
      removed.push(id);
    } catch (error) {
      failures.push(`${dir}: ${errorMessage(error)}`);
    }
  }
  if (failures.length > 0) {
    throw new HindsightError(
      'tool_failed',
      `could not remove ${failures.length} leftover sandbox(es): ${failures.join('; ')}${removed.length ? ` (removed: ${removed.join(', ')})` : ''}`,
    );
  }
  return { removed };
}

async function probeConfinement(): Promise<{ confinement: SandboxConfinement; detail: string } | undefined> {
  for (const major of [18, 17, 16, 15, 14, 13]) {
    const binaries = await serverBinaries(major).catch(() => undefined);
    if (!binaries) continue;
    const plan = await confinementFor(binaries.postgres, path.dirname(binaries.dir));
    return { confinement: plan.kind, detail: plan.detail };
  }
  return undefined;
}

/**
 * Sandboxes as PostgreSQL servers run on this machine, from server binaries of exactly the
 * backup's major version, confined as confinement.ts decides. Each lives in `<root>/sbx-<id>`
 * (the worker's, 0711): `data/` and `socket/` (the sandbox user's, 0700), the server log and
 * `owner.json`, which lets a later sweep tell a live sandbox from one whose worker died. The server
 * has no TCP listener; the worker reaches it through the socket directory with a random password.
 */
export function createProcessSandboxDriver(options: ProcessSandboxOptions = {}): SandboxDriver {
  const root = path.resolve(options.root ?? defaultSandboxRoot());
  let rootReady: Promise<void> | undefined;
  const ensureRoot = (): Promise<void> => {
    rootReady ??= prepareRoot(root);
    rootReady.catch(() => {
      rootReady = undefined;
    });
    return rootReady;
  };
  return {
    name: 'process',
    create: (createOptions) => createSandbox(root, ensureRoot, createOptions),
    sweepLeftovers: () => sweepLeftovers(root),
    probeConfinement,
  };
}
