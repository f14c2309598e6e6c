import { execFile } from 'node:child_process';
import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { HindsightError } from '../errors.ts';

const run = promisify(execFile);

export type PgTool =
  | 'pg_dump' | 'pg_restore' | 'psql' | 'initdb' | 'pg_ctl' | 'postgres' | 'pg_basebackup' | 'pg_receivewal';

export interface ToolInfo {
  path: string;
  major: number;
  version: string;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, 1);
    return true;
  } catch {
    return false;
  }
}

/** Directories that may hold PostgreSQL binaries, newest major first. */
async function candidateDirs(): Promise<string[]> {
  const dirs: string[] = [];
  if (process.env.HINDSIGHT_PG_BIN) dirs.push(process.env.HINDSIGHT_PG_BIN);
  try {
    const majors = (await readdir('/usr/lib/postgresql')).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a));
    dirs.push(...majors.map((m) => `/usr/lib/postgresql/${m}/bin`));
  } catch {
    // not a Debian layout
  }
  dirs.push(...(process.env.PATH ?? '').split(':').filter(Boolean));
  return dirs;
}

const cache = new Map<string, Promise<ToolInfo[]>>();

async function versionOf(file: string): Promise<ToolInfo | undefined> {
  try {
    const { stdout } = await run(file, ['--version']);
    // e.g. "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" or "pg_dump (PostgreSQL) 17beta1"
    const match = /\(PostgreSQL\)\s+((\d+)[\w.]*)/.exec(stdout);
    if (!match) return undefined;
    return { path: file, major: Number(match[2]), version: match[1]! };
  } catch {
    return undefined;
  }
}

/** Every installation of a tool that can be found, newest major first. */
export function findTools(tool: PgTool): Promise<ToolInfo[]> {
  let found = cache.get(tool);
  if (!found) {
    found = (async () => {
      const seen = new Set<string>();
      const out: ToolInfo[] = [];
      for (const dir of await candidateDirs()) {
        const file = path.join(dir, tool);
        if (seen.has(file) || !(await isExecutable(file))) continue;
        seen.add(file);
        const info = await versionOf(file);
        if (info && !out.some((o) => o.major === info.major)) out.push(info);
      }
      return out.sort((a, b) => b.major - a.major);
    })();
    cache.set(tool, found);
  }
  return found;
}

/**
 * The tool to use against a server of `serverMajor`: pg_dump and pg_restore must be at least the
 * server's major version (PostgreSQL docs, pg_dump "Notes"), so the newest one available is taken.
 */
export async function toolFor(tool: PgTool, serverMajor?: number): Promise<ToolInfo> {
  const all = await findTools(tool);
  const newest = all[0];
  if (!newest) {
    throw new HindsightError('not_found', `${tool} not found: install PostgreSQL client tools (e.g. apt-get install postgresql-client-15) or set HINDSIGHT_PG_BIN`);
  }
  if (serverMajor !== undefined && newest.major < serverMajor) {
    throw new HindsightError('bad_input', `${tool} ${newest.version} cannot work with a PostgreSQL ${serverMajor} server: install postgresql-client-${serverMajor} or newer`);
  }
  return newest;
}

/** A server binary of exactly one major version (a cluster's data directory is tied to it). */
export async function serverToolOfMajor(tool: 'initdb' | 'pg_ctl' | 'postgres', major?: number): Promise<ToolInfo> {
  const all = await findTools(tool);
  const match = major === undefined ? all[0] : all.find((t) => t.major === major);
  if (!match) {
    throw new HindsightError('not_found', `${tool}${major ? ` for PostgreSQL ${major}` : ''} not found: install postgresql-${major ?? 15} or set HINDSIGHT_PG_BIN`);
  }
  return match;
}

/** zstd needs pg_dump 16 or newer; older tools use gzip at the same level. */
export function dumpCompressionFor(pgDumpMajor: number): { flag: string; name: 'zstd' | 'gzip'; level: number } {
  return pgDumpMajor >= 16 ? { flag: '--compress=zstd:5', name: 'zstd', level: 5 } : { flag: '--compress=5', name: 'gzip', level: 5 };
}
