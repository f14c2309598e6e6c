/**
 * How a sandboxed PostgreSQL server is confined. A restored cluster is hostile: its superuser can
 * run programs (COPY … TO PROGRAM) as the server's OS user, so that user is the sandbox's own
 * (os-user.ts) and, where bubblewrap runs, the server also sees only the system's read-only files,
 * its own data and socket directories, no network but loopback, and no process of the host.
 *
 * The order is setpriv (root → the sandbox user, no groups, no new privileges) then bwrap as that
 * unprivileged user in a user namespace of its own. bwrap thus never holds a privilege the sandbox
 * user lacks, and `--disable-userns` keeps code inside from making further namespaces (a common
 * first step of kernel exploits). Where user namespaces are not allowed (some containers), the
 * probe fails and the server runs as the sandbox user alone; the report says which applied.
 */
import { spawn } from 'node:child_process';
import { lstat, readlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { HindsightError } from '../errors.ts';
import { canSwitchUser, sandboxEnv, sandboxOsUser, sandboxUserIds } from './os-user.ts';

export type ProcessConfinement = 'bwrap' | 'os-user' | 'none';

export interface ConfinementPlan {
  kind: ProcessConfinement;
  /** The OS user the server runs as. */
  osUser: string;
  /** One line for the report: who the server runs as and what it is cut off from. */
  detail: string;
  /** The command line that runs `file` under this confinement (spawn it with env: sandboxEnv()). */
  command(run: ConfinedRun): [string, string[]];
}

export interface ConfinedRun {
  file: string;
  args: string[];
  /** Directories the program may write: bound read-write at the same path under bwrap. */
  writable: string[];
  /** The server installation, bound read-only when it lies outside /usr. */
  installDir: string;
  /**
   * Without bwrap, the signal the program gets when the worker dies (PR_SET_PDEATHSIG). With bwrap,
   * --die-with-parent kills the whole sandbox instead.
   */
  onWorkerDeath: 'QUIT' | 'KILL';
}

/** Only these of /etc: the dynamic linker's cache and user names. No keys, no host's configuration. */
const ETC_FILES = [
  'passwd',
  'group',
  'nsswitch.conf',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'alternatives',
];
const TOP_LEVEL_SYSTEM = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];

/** /bin, /lib… as on the host: symlinks on a merged-/usr system, read-only directories otherwise. */
async function systemViewArgs(): Promise<string[]> {
  const args = ['--ro-bind', '/usr', '/usr'];
  for (const name of TOP_LEVEL_SYSTEM) {
    const where = `/${name}`;
    const info = await lstat(where).catch(() => undefined);
    if (!info) continue;
    if (info.isSymbolicLink()) args.push('--symlink', await readlink(where), where);
    else if (info.isDirectory()) args.push('--ro-bind', where, where);
  }
  for (const name of ETC_FILES) args.push('--ro-bind-try', `/etc/${name}`, `/etc/${name}`);
  return args;
}

async function userSwitchWords(): Promise<string[]> {
  if (!canSwitchUser()) return [];
  const { uid, gid } = await sandboxUserIds();
  return ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--inh-caps=-all'];
}

function bwrapArgs(system: string[], run: ConfinedRun): string[] {
  const install = path.resolve(run.installDir);
  const extra = install === '/usr' || install.startsWith('/usr/') ? [] : ['--ro-bind', install, install];
  return [
    '--unshare-user',
    '--disable-userns',
    '--unshare-pid',
    '--unshare-net',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    // Killed with the worker, so nothing hostile outlives it; a new session keeps it off our terminal.
    '--die-with-parent',
    '--new-session',
    // The fresh /tmp first: a server installed below /tmp (a checkout there) is bound over it, not hidden by it.
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    ...system,
    ...extra,
    ...run.writable.flatMap((dir) => ['--bind', dir, dir]),
    '--chdir',
    '/',
    '--',
    run.file,
    ...run.args,
  ];
}

/** The plan for `kind` on this machine, without checking that it runs (confinementFor does). */
export async function buildPlan(kind: ProcessConfinement): Promise<ConfinementPlan> {
  const switchWords = await userSwitchWords();
  const osUser = switchWords.length ? sandboxOsUser() : os.userInfo().username;
  const system = kind === 'bwrap' ? await systemViewArgs() : [];
  const prefix = (death: string | undefined): string[] => {
    const words = [...switchWords];
    if (!words.length) words.push('setpriv');
    words.push('--no-new-privs');
    if (death) words.push(`--pdeathsig=${death}`);
    return [...words, '--'];
  };
  const detail = {
    bwrap: `bubblewrap as OS user "${osUser}": read-only system, no network, no host processes, no user namespaces`,
    'os-user': `OS user "${osUser}" without bubblewrap (it cannot run here): the server sees the host's files that user may read`,
    none: `the worker's own OS user "${osUser}" (not root, no bubblewrap): the server can read what the worker reads`,
  }[kind];
  return {
    kind,
    osUser,
    detail,
    command(run) {
      const words =
        kind === 'bwrap'
          ? [...prefix(undefined), 'bwrap', ...bwrapArgs(system, run)]
          : [...prefix(run.onWorkerDeath), run.file, ...run.args];
      return [words[0]!, words.slice(1)];
    },
  };
}

function succeeds(cmd: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: sandboxEnv(), stdio: 'ignore', cwd: '/', timeout: 15_000 });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

/** `off` runs sandboxes without bubblewrap even where it works (a host whose policy forbids user namespaces for it). */
const bwrapSetting = z.enum(['auto', 'off']).default('auto');

const probed = new Map<string, Promise<ConfinementPlan>>();

/**
 * The strongest confinement that works on this machine for the server in `installDir`: bwrap is
 * tried by running that very `postgres --version` inside it. HINDSIGHT_SANDBOX_BWRAP=off skips it.
 */
export function confinementFor(postgres: string, installDir: string): Promise<ConfinementPlan> {
  const setting = bwrapSetting.safeParse(process.env.HINDSIGHT_SANDBOX_BWRAP || undefined);
  if (!setting.success) {
    return Promise.reject(
      new HindsightError(
        'bad_input',
        `HINDSIGHT_SANDBOX_BWRAP must be auto or off, not "${process.env.HINDSIGHT_SANDBOX_BWRAP}"`,
      ),
    );
  }
  const key = `${postgres}\0${setting.data}`;
  let plan = probed.get(key);
  if (!plan) {
    plan = (async () => {
      const fallback = await buildPlan(canSwitchUser() ? 'os-user' : 'none');
      if (setting.data === 'off') return fallback;
      const bwrap = await buildPlan('bwrap');
      const [cmd, args] = bwrap.command({
        file: postgres,
        args: ['--version'],
        writable: [],
        installDir,
        onWorkerDeath: 'KILL',
      });
      return (await succeeds(cmd, args)) ? bwrap : fallback;
    })();
    probed.set(key, plan);
    plan.catch(() => probed.delete(key));
  }
  return plan;
}
