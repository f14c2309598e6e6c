import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HindsightError, errorMessage } from '../errors.ts';
import type { PgTarget } from '../pg/connection.ts';
import { serverBinaries, serverBinariesForSource, type ServerBinaries } from './binaries.ts';
import { confinementFor, type ConfinementPlan } from './confinement.ts';
import type { Sandbox, SandboxConfinement, SandboxCreateOptions, SandboxDriver } from './contract.ts';
import {
  HEARTBEAT_MS,
  ownerWriter,
  removeSandboxDir,
  sandboxPaths,
  sweepLeftovers,
  trackLive,
  untrackLive,
} from './process-dirs.ts';
import { initialise, prepareRoot, privateToSandboxUser } from './process-permissions.ts';
import { SANDBOX_PORT, launchPostmaster, logTail, waitUntilAccepting, type SandboxPaths } from './server-process.ts';

export { currentOwner, ownerIsAlive, processAlive, type SandboxOwner } from './owner.ts';
export { waitUntilAccepting } from './server-process.ts';
export type { SandboxOwnerFile } from './process-dirs.ts';

function cancelled(major: number): HindsightError {
  return new HindsightError('tool_failed', `creation of the PostgreSQL ${major} sandbox was cancelled`);
}

export const defaultSandboxRoot = (): string => path.join(os.tmpdir(), 'hindsight-sandboxes');

export interface ProcessSandboxOptions {
  /** Where sandbox directories go; default `<tmpdir>/hindsight-sandboxes`. */
  root?: string;
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
      untrackLive(dir);
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
