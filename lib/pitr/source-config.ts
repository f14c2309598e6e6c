/**
 * Moves the source's configuration out of the way of the restored server. A base backup carries
 * postgresql.conf, postgresql.auto.conf (ALTER SYSTEM), pg_hba.conf, pg_ident.conf and whatever
 * they include, all written by whoever controlled the source: a recovery_end_command, an
 * archive_command, shared_preload_libraries or a `trust` line would run (or open) where the
 * restore runs. They go, unchanged, into `<data dir>/hindsight-source-config/` for the operator,
 * which nothing the server reads ever names; lib/pitr/server-config.ts writes the configuration
 * the server starts with instead.
 *
 * Reading the source's files (to find what they include) never follows a symbolic link and never
 * leaves the data directory: a link, or a path outside, is listed as not kept and left alone.
 */
import { lstat, mkdir, readdir, realpath, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  hbaConfigReferences,
  serverConfigReferences,
  type ConfigKind,
  type ConfigReference,
} from './config-references.ts';
import { handToServerUser } from './os-user.ts';
import { readNoFollow } from './server-files.ts';

export const SOURCE_CONFIG_DIR = 'hindsight-source-config';
export const SOURCE_CONFIG_README = 'HINDSIGHT-README.txt';

/** The files PostgreSQL reads by name from a data directory (recovery.conf makes 12+ refuse to start). */
const TOP_LEVEL: Array<[string, ConfigKind]> = [
  ['postgresql.conf', 'server'],
  ['postgresql.auto.conf', 'server'],
  ['pg_hba.conf', 'hba'],
  ['pg_ident.conf', 'hba'],
  ['recovery.conf', 'server'],
];

/** PostgreSQL's own parts of a data directory: an include naming one of them never moves it. */
const CLUSTER_ENTRY = /^(PG_VERSION|backup_label|backup_manifest|tablespace_map|base|global|pg_[a-z_]+|hindsight-.*)$/;

/** PostgreSQL's own limit on include depth (CONF_FILE_MAX_DEPTH). */
const MAX_DEPTH = 10;
const MAX_FILE_BYTES = 1024 * 1024;

export interface SourceConfigAside {
  /** Where the source's files now are. */
  dir: string;
  /** Paths relative to the data directory that were moved there. */
  kept: string[];
  /** References that were not followed, with the reason (outside the data directory, a link, …). */
  notKept: string[];
}

const inside = (root: string, file: string) => file.startsWith(`${root}${path.sep}`);

interface Walk {
  dataDir: string;
  found: Set<string>;
  notKept: string[];
}

/** Resolves one reference; returns the relative path of a movable entry inside the data directory. */
async function vet(walk: Walk, from: string, ref: ConfigReference): Promise<string | undefined> {
  const absolute = path.resolve(path.dirname(from), ref.path);
  if (!inside(walk.dataDir, absolute)) {
    walk.notKept.push(
      `${ref.path} (named in ${path.relative(walk.dataDir, from)}): outside the data directory, not copied`,
    );
    return undefined;
  }
  // A symbolic link among the parents could lead outside: the real parent must still be inside.
  const realParent = await realpath(path.dirname(absolute)).catch(() => undefined);
  if (realParent === undefined || (realParent !== walk.dataDir && !inside(walk.dataDir, realParent))) {
    walk.notKept.push(
      `${ref.path} (named in ${path.relative(walk.dataDir, from)}): missing, or behind a link leading outside the data directory`,
    );
    return undefined;
  }
  const relative = path.relative(walk.dataDir, path.join(realParent, path.basename(absolute)));
  if (CLUSTER_ENTRY.test(relative.split(path.sep)[0]!)) {
    walk.notKept.push(
      `${ref.path} (named in ${path.relative(walk.dataDir, from)}): part of the cluster itself, left in place (never read as configuration)`,
    );
    return undefined;
  }
  return relative;
}

async function follow(walk: Walk, relative: string, kind: ConfigKind, depth: number): Promise<void> {
  if (walk.found.has(relative) || depth > MAX_DEPTH) return;
  const file = path.join(walk.dataDir, relative);
  const info = await lstat(file).catch(() => undefined);
  if (!info) return;
  walk.found.add(relative);
  if (!info.isFile()) return;
  const text = await readNoFollow(file, MAX_FILE_BYTES);
  if (text === undefined) return;
  const refs = kind === 'server' ? serverConfigReferences(text) : hbaConfigReferences(text);
  for (const ref of refs) {
    const target = await vet(walk, file, ref);
    if (target === undefined) continue;
    const targetInfo = await lstat(path.join(walk.dataDir, target)).catch(() => undefined);
    if (ref.directory && targetInfo?.isDirectory()) {
      walk.found.add(target);
      const names = (await readdir(path.join(walk.dataDir, target)).catch(() => [] as string[]))
        .filter((n) => n.endsWith('.conf'))
        .sort();
      for (const name of names) await follow(walk, path.join(target, name), ref.kind, depth + 1);
    } else {
      await follow(walk, target, ref.kind, depth + 1);
    }
  }
}

/** A data directory entry named like our own directory (a source that was itself restored) moves in too. */
async function makeKeptDir(dataDir: string): Promise<{ dir: string; previous: string | undefined }> {
  const dir = path.join(dataDir, SOURCE_CONFIG_DIR);
  let previous: string | undefined;
  if (await lstat(dir).catch(() => undefined)) {
    previous = path.join(dataDir, `${SOURCE_CONFIG_DIR}.${randomBytes(4).toString('hex')}`);
    await rename(dir, previous);
  }
  await mkdir(dir, { mode: 0o700 });
  await handToServerUser(dir);
  return { dir, previous };
}

async function moveInto(dataDir: string, keptDir: string, relative: string): Promise<void> {
  const destination = path.join(keptDir, relative);
  const parent = path.dirname(destination);
  if (parent !== keptDir) {
    const made = await mkdir(parent, { recursive: true, mode: 0o700 });
    if (made !== undefined) await handToServerUser(parent);
  }
  await rename(path.join(dataDir, relative), destination);
}

function readme(aside: SourceConfigAside): string {
  return [
    'The configuration of the PostgreSQL server this base backup was taken from, exactly as it was.',
    'Hindsight started the restored server without it, from an allow-list of its own (postgresql.conf,',
    'pg_hba.conf and pg_ident.conf one level up); nothing here is read by the server.',
    'Bring settings back one at a time, after reading them: a copy of a hostile configuration can run',
    'programs (recovery_end_command, archive_command, shared_preload_libraries) or open the server (trust).',
    '',
    'Kept here:',
    ...aside.kept.map((k) => `  ${k}`),
    ...(aside.notKept.length > 0 ? ['', 'Named but not kept:', ...aside.notKept.map((n) => `  ${n}`)] : []),
    '',
  ].join('\n');
}

/**
 * Moves the source's configuration files, and every file or include directory they name inside
 * the data directory, into `<dataDir>/hindsight-source-config/`.
 */
export async function setSourceConfigAside(dataDirInput: string): Promise<SourceConfigAside> {
  const dataDir = await realpath(dataDirInput);
  const walk: Walk = { dataDir, found: new Set(), notKept: [] };
  for (const [name, kind] of TOP_LEVEL) await follow(walk, name, kind, 0);
  const { dir, previous } = await makeKeptDir(dataDir);
  const kept: string[] = [];
  // Parents first: a file inside an include directory moves with it.
  for (const relative of [...walk.found].sort((a, b) => a.length - b.length)) {
    if (kept.some((k) => inside(path.join(dataDir, k), path.join(dataDir, relative)))) continue;
    await moveInto(dataDir, dir, relative);
    kept.push(relative);
  }
  if (previous) {
    await rename(previous, path.join(dir, SOURCE_CONFIG_DIR));
    kept.push(`${SOURCE_CONFIG_DIR} (kept by an earlier restore of the source itself)`);
  }
  const aside = { dir, kept, notKept: walk.notKept };
  const readmeFile = path.join(dir, SOURCE_CONFIG_README);
  // The source's own file of that name, if any, wins: it is what the operator came for.
  const written = await writeFile(readmeFile, readme(aside), { mode: 0o600, flag: 'wx' }).then(
    () => true,
    () => false,
  );
  if (written) await handToServerUser(readmeFile);
  return aside;
}
