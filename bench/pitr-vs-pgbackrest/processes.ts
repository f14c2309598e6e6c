/** The processes the PITR bench runs: tools as the PostgreSQL OS user, pgBackRest, and the worker. */
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Platform } from '../../test/support/platform.ts';
import { log } from '../settings.ts';

const MIB = 1024 * 1024;
const osUser = process.env.HINDSIGHT_PG_OS_USER ?? 'postgres';
const execFileAsync = promisify(execFile);

/**
 * Runs a tool as the PostgreSQL OS user, asynchronously: the worker runs in this process, and a
 * blocked event loop would stall its heartbeats and the WAL archiver being measured.
 */
export async function asPostgres(args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('runuser', ['-u', osUser, '--', ...args], {
      encoding: 'utf8',
      maxBuffer: 64 * MIB,
    });
    return stdout;
  } catch (error) {
    const e = error as { code?: number; stderr?: string; stdout?: string };
    throw new Error(
      `${args.join(' ')} failed (${e.code}): ${(e.stderr || e.stdout || '').trim().split('\n').slice(-5).join(' | ')}`,
      { cause: error },
    );
  }
}

export async function runAsync(file: string, args: string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await execFileAsync(file, args, {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 64 * MIB,
  });
  return stdout;
}

export function ensurePgBackRest(): string {
  const found = spawnSync('sh', ['-c', 'command -v pgbackrest'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  log('installing Debian pgbackrest (apt-get install -y pgbackrest)');
  execFileSync('apt-get', ['install', '-y', '-q', 'pgbackrest'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return spawnSync('sh', ['-c', 'command -v pgbackrest'], { encoding: 'utf8' }).stdout.trim();
}

/**
 * The worker as its own process, as in production: the bench's sampling and the worker's uploads
 * must not share one event loop.
 */
export async function startWorkerProcess(platform: Platform, logFile: string): Promise<ChildProcess> {
  const main = fileURLToPath(new URL('../../worker/main.ts', import.meta.url));
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, ...platform.configEnv, HINDSIGHT_LOG_LEVEL: 'info', HINDSIGHT_LOG_PRETTY: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = createWriteStream(logFile);
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-4096);
      if (seen.includes('"worker ready"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready; see ${logFile}`)));
  });
  return child;
}
