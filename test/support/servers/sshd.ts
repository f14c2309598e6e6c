import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { access, chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../ports.ts';

export interface SshdServer {
  host: string;
  port: number;
  username: string;
  password: string;
  /** OpenSSH-format private key whose public half is authorized, encrypted with `passphrase`. */
  privateKey: string;
  passphrase: string;
  /** The server's host key fingerprint as `ssh-keygen -lf` prints it: 'SHA256:<base64>'. */
  hostKeySha256: string;
  /** An absolute directory on the server that the user may write to. */
  baseDir: string;
  /** A root-owned directory the user may read but not write. */
  readOnlyDir: string;
  /** Suspends every open session (SIGSTOP) until the returned function resumes them: a hung server. */
  freezeSessions(): Promise<() => void>;
  /** Ends the server and every session it holds, then removes its files. */
  stop(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';
const SFTP_USER = 'hindsight-sftp';
const SFTP_HOME = `/var/lib/${SFTP_USER}`;
/** Root-only; every test process reads the same password so parallel runs do not fight over it. */
const PASSWORD_FILE = path.join(SFTP_HOME, '.test-password');

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function run(command: string, args: string[], input?: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8', input });
  if (result.error) throw new Error(`${command} could not run: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

async function requireTools(): Promise<void> {
  for (const tool of [SSHD, '/usr/bin/ssh-keygen']) {
    try {
      await access(tool, constants.X_OK);
    } catch {
      throw new Error(`${tool} is missing: install OpenSSH, e.g. 'apt-get install openssh-server openssh-client'`);
    }
  }
  if (process.getuid?.() !== 0) {
    throw new Error(
      'the SFTP test server needs root: sshd checks passwords against /etc/shadow and switches to the test user',
    );
  }
}

const userExists = (): boolean => spawnSync('id', ['-u', SFTP_USER], { stdio: 'ignore' }).status === 0;

/**
 * A dedicated system account that can only use SFTP on the test sshd (nologin shell; the test
 * sshd forces internal-sftp). Its password is random, kept root-only, and shared by test runs.
 */
async function ensureUser(): Promise<{ uid: number; gid: number; password: string }> {
  // useradd and chpasswd refuse to run while another process holds the account database lock.
  await retry(() => {
    if (userExists()) return;
    const created = spawnSync(
      'useradd',
      ['--system', '--home-dir', SFTP_HOME, '--create-home', '--shell', '/usr/sbin/nologin', SFTP_USER],
      { encoding: 'utf8' },
    );
    if (created.status !== 0 && !userExists()) throw new Error(`useradd ${SFTP_USER} failed: ${created.stderr.trim()}`);
  });
  await mkdir(SFTP_HOME, { recursive: true });
  let password: string;
  try {
    password = randomBytes(18).toString('base64url');
    await writeFile(PASSWORD_FILE, password, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    password = (await readFile(PASSWORD_FILE, 'utf8')).trim();
  }
  await retry(() => run('chpasswd', [], `${SFTP_USER}:${password}\n`));
  const uid = Number(run('id', ['-u', SFTP_USER]).trim());
  const gid = Number(run('id', ['-g', SFTP_USER]).trim());
  return { uid, gid, password };
}

async function retry(work: () => unknown, attempts = 20): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      work();
      return;
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** 'SHA256:<unpadded base64>' of the key blob in an OpenSSH public key line. */
function fingerprintOf(publicKeyLine: string): string {
  const blob = publicKeyLine.trim().split(/\s+/)[1];
  if (!blob) throw new Error(`unexpected public key format: ${publicKeyLine}`);
  return `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** Every process below `pid`: sshd forks one (session-leading) process tree per connection. */
async function descendantsOf(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // The command name may contain spaces and parentheses: the parent pid follows the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!Number.isInteger(ppid)) continue;
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const visit = (parent: number): void => {
    for (const child of parents.get(parent) ?? []) {
      out.push(child);
      visit(child);
    }
  };
  visit(pid);
  return out;
}

/** Resolves once the port answers with an SSH banner. */
async function waitForBanner(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with code ${child.exitCode}: ${log()}`);
    const banner = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let text = '';
      const done = (value: string) => {
        socket.destroy();
        resolve(value);
      };
      socket.setTimeout(1000, () => done(''));
      socket.on('data', (chunk) => {
        text += chunk.toString('latin1');
        if (text.includes('\n')) done(text);
      });
      socket.on('error', () => done(''));
    });
    if (banner.startsWith('SSH-2.0-')) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`sshd did not answer on 127.0.0.1:${port} within 10 s: ${log()}`);
}

/**
 * OpenSSH's sshd on 127.0.0.1 with a fresh host key, password and public-key login for a
 * dedicated SFTP-only user, and a writable base directory owned by that user.
 */
export async function startSshd(): Promise<SshdServer> {
  await requireTools();
  const { uid, gid, password } = await ensureUser();
  // Privilege separation needs its empty directory; the distribution creates it only at boot.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  const dir = await mkdtemp(path.join(tmpdir(), 'hindsight-sshd-'));
  try {
    // sshd reads authorized_keys as the user, so the directory must be traversable by it.
    await chmod(dir, 0o755);
    const hostKey = path.join(dir, 'host_ed25519');
    const clientKey = path.join(dir, 'client_ed25519');
    const passphrase = randomBytes(12).toString('hex');
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hindsight-test-host', '-f', hostKey]);
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'hindsight-test-client', '-f', clientKey]);
    const authorizedKeys = path.join(dir, 'authorized_keys');
    await writeFile(authorizedKeys, await readFile(`${clientKey}.pub`), { mode: 0o644 });
    await chmod(authorizedKeys, 0o644);

    const baseDir = path.join(dir, 'data');
    await mkdir(baseDir, { mode: 0o700 });
    await chown(baseDir, uid, gid);
    const readOnlyDir = path.join(dir, 'read-only');
    await mkdir(readOnlyDir, { mode: 0o755 });

    const port = await freePort();
    const config = path.join(dir, 'sshd_config');
    await writeFile(
      config,
      [
        `ListenAddress 127.0.0.1:${port}`,
        `HostKey ${hostKey}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        'PasswordAuthentication yes',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'PermitRootLogin no',
        `AllowUsers ${SFTP_USER}`,
        'UsePAM no',
        'StrictModes no',
        'Subsystem sftp internal-sftp',
        'ForceCommand internal-sftp',
        'AllowTcpForwarding no',
        'X11Forwarding no',
        'PermitTTY no',
        'MaxStartups 64',
        'LogLevel INFO',
        '',
      ].join('\n'),
    );

    const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(child);
    let log = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString('utf8')).slice(-8000);
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Stopping the listener alone would leave open sessions running, as sshd does on purpose.
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        const sessions = await descendantsOf(child.pid);
        child.kill('SIGTERM');
        for (const pid of sessions) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
        await exited;
      }
      running.delete(child);
      await rm(dir, { recursive: true, force: true });
    };
    try {
      await waitForBanner(port, child, () => log);
    } catch (error) {
      await stop();
      throw error;
    }
    return {
      host: '127.0.0.1',
      port,
      username: SFTP_USER,
      password,
      privateKey: await readFile(clientKey, 'utf8'),
      passphrase,
      hostKeySha256: fingerprintOf(await readFile(`${hostKey}.pub`, 'utf8')),
      baseDir,
      readOnlyDir,
      async freezeSessions() {
        const sessions = child.pid === undefined ? [] : await descendantsOf(child.pid);
        const signal = (name: NodeJS.Signals) => {
          for (const pid of sessions) {
            try {
              process.kill(pid, name);
            } catch {
              // Already gone.
            }
          }
        };
        signal('SIGSTOP');
        return () => signal('SIGCONT');
      },
      stop,
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
