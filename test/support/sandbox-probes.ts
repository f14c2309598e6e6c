/**
 * What the process sandbox tests look at from outside a sandbox: its files, its server's pid,
 * a query over its admin connection, and a separate process that holds a sandbox until killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { connect, type PgTarget } from '../../lib/pg/connection.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');

export async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

export async function postmasterPid(dataDir: string): Promise<number> {
  return Number.parseInt((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]!, 10);
}

export async function query<T>(target: PgTarget, sql: string): Promise<T[]> {
  const client = await connect('sandbox test', target);
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

/** The sandbox directories under `root`, sorted; none if the root does not exist yet. */
export const sandboxDirs = async (root: string) =>
  (await readdir(root).catch(() => [] as string[])).filter((n) => n.startsWith('sbx-')).sort();

/** The sandbox a holder process created, as it printed it. */
export interface HeldSandbox {
  id: string;
  socketDir: string;
  dataDir: string;
  pid: number;
}

/**
 * Starts test/support/sandbox-holder.ts on `root` and waits (45 s at most) for the sandbox it
 * prints; the child is handed to `track` first so that the caller can kill it whatever happens.
 */
export async function startSandboxHolder(root: string, track: (child: ChildProcess) => void): Promise<HeldSandbox> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'test/support/sandbox-holder.ts'), root], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the holder printed nothing within 45 s: ${stderr}`)), 45_000);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('\n')) {
        clearTimeout(timer);
        resolve(stdout.split('\n')[0]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the holder exited (${code}) before printing: ${stderr}`));
    });
  });
  return JSON.parse(line) as HeldSandbox;
}
