/**
 * The archive's table of contents (`pg_restore -l`) and what of it a role without privileges is
 * given to load. Entry types only a superuser can create are left out before the load and reported
 * as skipped, by name: they are facts about the dump, not failures of the backup.
 */
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stderrTail, waitForExit } from '../backup/child-process.ts';
import { ArchiveDecoder } from '../backup/compress-decoder.ts';
import { compressedWhere } from '../backup/manifest.ts';
import { directoryRestoreArgs } from '../backup/dir-restore.ts';
import type { OpenedBackup } from '../backup/sources.ts';
import { decryptOptionsFor } from '../backup/expectation.ts';
import { DecryptStream, type DecryptionKey } from '../crypto/chunked-gcm.ts';
import { HindsightError } from '../errors.ts';
import { toolFor } from '../pg/tools.ts';
import type { ExtensionRequest } from '../sandbox/restore-role.ts';
import type { LoadItem } from './report.ts';

export interface TocEntry {
  dumpId: number;
  type: string;
  /** `null` where the list shows `-`. */
  schema: string | null;
  /** The tag, with the owner stripped: a table's name, `EXTENSION hstore` for a comment on one. */
  name: string;
  line: string;
}

// Longest first: "TABLE DATA" must win over "TABLE".
const KNOWN_TYPES = [
  'MATERIALIZED VIEW DATA',
  'STATISTICS DATA',
  'BLOB METADATA',
  'PUBLICATION TABLES IN SCHEMA',
  'TEXT SEARCH CONFIGURATION',
  'TEXT SEARCH DICTIONARY',
  'TEXT SEARCH TEMPLATE',
  'TEXT SEARCH PARSER',
  'FOREIGN DATA WRAPPER',
  'DATABASE PROPERTIES',
  'SUBSCRIPTION TABLE',
  'PUBLICATION TABLE',
  'PROCEDURAL LANGUAGE',
  'MATERIALIZED VIEW',
  'SEQUENCE OWNED BY',
  'OPERATOR FAMILY',
  'OPERATOR CLASS',
  'SECURITY LABEL',
  'EVENT TRIGGER',
  'FOREIGN TABLE',
  'ACCESS METHOD',
  'FK CONSTRAINT',
  'CHECK CONSTRAINT',
  'INDEX ATTACH',
  'TABLE ATTACH',
  'SEQUENCE SET',
  'USER MAPPING',
  'DEFAULT ACL',
  'LARGE OBJECT',
  'ROW SECURITY',
  'SUBSCRIPTION',
  'PUBLICATION',
  'BLOB DATA',
  'TABLE DATA',
  'CONSTRAINT',
  'EXTENSION',
  'STATISTICS',
  'CONVERSION',
  'COLLATION',
  'TRANSFORM',
  'AGGREGATE',
  'PROCEDURE',
  'FUNCTION',
  'OPERATOR',
  'SEQUENCE',
  'DATABASE',
  'TRIGGER',
  'DEFAULT',
  'SERVER',
  'DOMAIN',
  'SCHEMA',
  'POLICY',
  'COMMENT',
  'INDEX',
  'TABLE',
  'BLOBS',
  'CAST',
  'RULE',
  'TYPE',
  'VIEW',
  'ACL',
];

/** `215; 1259 16386 TABLE public entries postgres` → its parts. Comment lines (`;`) are not entries. */
export function parseTocList(text: string): TocEntry[] {
  const entries: TocEntry[] = [];
  for (const line of text.split('\n')) {
    const head = /^(\d+);\s+\d+\s+\d+\s+(.*)$/.exec(line);
    if (!head) continue;
    const rest = head[2]!;
    const type = KNOWN_TYPES.find((t) => rest.startsWith(`${t} `)) ?? rest.split(' ')[0]!;
    const after = rest.slice(type.length + 1);
    const space = after.indexOf(' ');
    const schema = space < 0 ? after : after.slice(0, space);
    // The owner is the last word; it is empty for extensions and comments on them.
    const tagAndOwner = space < 0 ? '' : after.slice(space + 1);
    const name = tagAndOwner.endsWith(' ') ? tagAndOwner.trimEnd() : tagAndOwner.replace(/\s+\S+$/, '');
    entries.push({ dumpId: Number(head[1]), type, schema: schema === '-' ? null : schema, name, line });
  }
  return entries;
}

/** Why an entry type is not given to the restore role at all. */
const SUPERUSER_ONLY: Record<string, string> = {
  'EVENT TRIGGER': "event triggers need a superuser (and would fire on the sandbox superuser's own commands)",
  'PROCEDURAL LANGUAGE': 'creating a language outside an extension needs a superuser',
  'FOREIGN DATA WRAPPER': 'creating a foreign-data wrapper needs a superuser',
  'ACCESS METHOD': 'creating an access method needs a superuser',
  SUBSCRIPTION: 'subscriptions need a superuser and would connect out of the sandbox',
  'SUBSCRIPTION TABLE': 'subscriptions need a superuser and would connect out of the sandbox',
  'SECURITY LABEL': 'security labels need a label provider the sandbox does not load',
  DATABASE: 'database-level properties are not restored into the scratch database',
  'DATABASE PROPERTIES': 'database-level properties are not restored into the scratch database',
};

/** Privileges are never restored (--no-privileges): the restore role owns everything. Not worth a line each in the report. */
const NOT_RESTORED = new Set(['ACL', 'DEFAULT ACL']);

export const displayName = (entry: Pick<TocEntry, 'schema' | 'name'>): string =>
  entry.schema ? `${entry.schema}.${entry.name}` : entry.name;

export interface LoadPlan {
  /** The edited list for `pg_restore -L`. */
  list: string;
  entries: TocEntry[];
  /** Entries left out, with the reason. */
  skipped: LoadItem[];
  /** Extension names in the dump; their schemas come from extensionRequests(). */
  extensions: string[];
}

/**
 * Keeps every entry a non-superuser may create. Extensions (and comments on them, which need
 * their owner) are made beforehand by the sandbox's superuser, so their entries go too.
 */
export function planLoad(entries: TocEntry[], precreatedSchemas: string[] = []): LoadPlan {
  const skipped: LoadItem[] = [];
  const kept: TocEntry[] = [];
  const extensions: string[] = [];
  for (const entry of entries) {
    const item = { type: entry.type, name: displayName(entry) };
    if (entry.type === 'EXTENSION') {
      extensions.push(entry.name);
      continue;
    }
    if (entry.type === 'COMMENT' && entry.name.startsWith('EXTENSION ')) continue;
    if (entry.type === 'SCHEMA' && precreatedSchemas.includes(entry.name)) continue;
    if (NOT_RESTORED.has(entry.type)) continue;
    const reason = SUPERUSER_ONLY[entry.type];
    if (reason) skipped.push({ ...item, reason });
    else kept.push(entry);
  }
  return { list: `${kept.map((e) => e.line).join('\n')}\n`, entries, skipped, extensions };
}

const ident = String.raw`("(?:[^"]|"")+"|[A-Za-z_][\w$]*)`;
const unquote = (word: string): string =>
  word.startsWith('"') ? word.slice(1, -1).replace(/""/g, '"') : word.toLowerCase();

/** `CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public;` lines → name and schema (only those two words are used). */
export function extensionRequests(sql: string): ExtensionRequest[] {
  const found: ExtensionRequest[] = [];
  const pattern = new RegExp(String.raw`^CREATE EXTENSION IF NOT EXISTS ${ident} WITH SCHEMA ${ident};$`, 'gm');
  for (const match of sql.matchAll(pattern)) found.push({ name: unquote(match[1]!), schema: unquote(match[2]!) });
  return found;
}

/**
 * Runs pg_restore over the head of the archive (a list, or definitions of entries that carry no
 * data) and returns its output. pg_restore stops reading once it has what it needs, so the rest
 * of the stream is cut off on purpose.
 */
export async function readArchiveHead(
  opened: OpenedBackup,
  key: DecryptionKey,
  serverMajor: number,
  args: string[],
  archiveMajor?: number,
): Promise<string> {
  const pgRestore = await toolFor('pg_restore', serverMajor, { archiveMajor });
  const child = spawn(pgRestore.path, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' },
  });
  const stderr = stderrTail(child);
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    out += text;
  });
  const exited = waitForExit(child);
  child.stdin.on('error', () => undefined);
  await pipeline(
    opened.object,
    new DecryptStream(key, decryptOptionsFor(opened.expect)),
    new ArchiveDecoder({ expected: compressedWhere(opened.manifest), what: `object ${opened.expect.objectKey}` }),
    child.stdin as Writable,
  ).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_PREMATURE_CLOSE' && error.code !== 'ERR_STREAM_DESTROYED')
      throw error;
  });
  opened.object.destroy();
  const { code } = await exited;
  if (code !== 0)
    throw new HindsightError(
      'tool_failed',
      `pg_restore could not read the archive's table of contents (exit ${code}): ${stderr()}`,
    );
  return out;
}

/**
 * The same for an unpacked directory archive (a parallel dump): pg_restore reads the directory
 * itself, so nothing is streamed and nothing cut off.
 */
export async function readDirectoryHead(
  dir: string,
  serverMajor: number,
  args: string[],
  archiveMajor?: number,
): Promise<string> {
  const pgRestore = await toolFor('pg_restore', serverMajor, { archiveMajor });
  const child = spawn(pgRestore.path, [...args, ...directoryRestoreArgs(dir, 1)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' },
  });
  const stderr = stderrTail(child);
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text: string) => {
    out += text;
  });
  const { code } = await waitForExit(child);
  if (code !== 0)
    throw new HindsightError(
      'tool_failed',
      `pg_restore could not read the directory archive's table of contents (exit ${code}): ${stderr()}`,
    );
  return out;
}
