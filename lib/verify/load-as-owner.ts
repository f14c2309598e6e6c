/**
 * Loads a dump into a sandbox as the restore role (restore-role.ts), never as the superuser:
 * table of contents first, extensions made by the superuser from the sandbox's own files, then
 * pg_restore of every entry a role without privileges may create, going on past refusals, whose
 * errors are then sorted entry by entry (restore-errors.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { extractDirectoryArchive, type ExtractedArchive } from '../backup/dir-restore.ts';
import { compressedWhere, isDirectoryArchive, restoreJobs } from '../backup/manifest.ts';
import { runPgRestore, type PgRestoreRun } from '../backup/restore.ts';
import type { OpenedBackup } from '../backup/sources.ts';
import type { DecryptionKey } from '../crypto/chunked-gcm.ts';
import type { PgTarget } from '../pg/connection.ts';
import type { Sandbox } from '../sandbox/contract.ts';
import {
  RESTORE_ROLE,
  prepareRestoreDatabase,
  type ExtensionRequest,
  type RestoreDatabase,
} from '../sandbox/restore-role.ts';
import {
  extensionRequests,
  parseTocList,
  planLoad,
  readArchiveHead,
  readDirectoryHead,
  type TocEntry,
} from './archive-toc.ts';
import type { LoadReport } from './report.ts';
import { classifyRestoreErrors, parseRestoreErrors } from './restore-errors.ts';

/** Room for the error of every entry of a large hostile dump; beyond it the tail is kept. */
const STDERR_LIMIT = 4 * 1024 * 1024;

export interface LoadOptions {
  open(): Promise<OpenedBackup>;
  key: DecryptionKey;
  sandbox: Sandbox;
  /** The sandbox server's major, and the one of the pg_dump that wrote the archive. */
  major: number;
  archiveMajor?: number | undefined;
  database: string;
  signal?: AbortSignal | undefined;
}

export interface LoadOutcome {
  run: PgRestoreRun;
  load: LoadReport;
  /** The scratch database as the restore role: counting happens as that role too. */
  target: PgTarget;
  /** Where the restore role may run amcheck, or why it may not. */
  indexCheck: RestoreDatabase['indexCheck'];
}

/** Reads the head of the archive: streamed from storage, or from the unpacked directory of a parallel dump. */
type HeadReader = (args: string[]) => Promise<string>;

function headReader(options: LoadOptions, extracted: ExtractedArchive | undefined): HeadReader {
  if (extracted) return (args) => readDirectoryHead(extracted.dir, options.major, args, options.archiveMajor);
  return async (args) => readArchiveHead(await options.open(), options.key, options.major, args, options.archiveMajor);
}

async function extensionsOf(readHead: HeadReader, entries: TocEntry[], dir: string): Promise<ExtensionRequest[]> {
  const lines = entries.filter((e) => e.type === 'EXTENSION').map((e) => e.line);
  if (lines.length === 0) return [];
  const listFile = path.join(dir, 'extensions.list');
  await writeFile(listFile, `${lines.join('\n')}\n`, { mode: 0o600 });
  // Only the name and schema of each CREATE EXTENSION are taken from the dump's text; the statement run is Hindsight's own.
  const sql = await readHead(['--use-list', listFile, '--file', '-']);
  return extensionRequests(sql);
}

/**
 * A parallel dump's tar, unpacked once (and checked whole) for the three reads of the load; a
 * custom-format archive is streamed for each read instead.
 */
async function unpackIfDirectory(options: LoadOptions): Promise<ExtractedArchive | undefined> {
  const opened = await options.open();
  if (!isDirectoryArchive(opened.manifest)) {
    opened.object.destroy();
    return undefined;
  }
  return extractDirectoryArchive({
    ...opened,
    key: options.key,
    signal: options.signal,
    compression: compressedWhere(opened.manifest),
  });
}

export async function loadAsRestoreRole(options: LoadOptions): Promise<LoadOutcome> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hindsight-load-'));
  const extracted = await unpackIfDirectory(options);
  try {
    if (extracted?.streamError) throw extracted.streamError;
    const readHead = headReader(options, extracted);
    const entries = parseTocList(await readHead(['--list']));
    const wanted = await extensionsOf(readHead, entries, dir);
    const prepared = await prepareRestoreDatabase(options.sandbox, { database: options.database, extensions: wanted });
    const plan = planLoad(entries, prepared.schemasCreated);
    const listFile = path.join(dir, 'restore.list');
    await writeFile(listFile, plan.list, { mode: 0o600 });

    const opened = await options.open();
    if (extracted) opened.object.destroy();
    const run = await runPgRestore({
      label: 'verification sandbox',
      object: opened.object,
      expect: opened.expect,
      key: options.key,
      target: prepared.target,
      serverMajor: options.major,
      archiveMajor: options.archiveMajor,
      compression: compressedWhere(opened.manifest),
      partial: { listFile, stderrLimit: STDERR_LIMIT },
      directory: extracted ? { jobs: restoreJobs(opened.manifest), extracted } : undefined,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const classified = classifyRestoreErrors(parseRestoreErrors(run.stderrTail), entries);
    const load: LoadReport = {
      role: RESTORE_ROLE,
      entries: entries.length,
      extensions: prepared.extensionsCreated.map((e) => e.name),
      skipped: [
        ...prepared.extensionsMissing.map((e) => ({ type: 'EXTENSION', name: e.name, reason: e.reason })),
        ...plan.skipped,
      ],
      refused: classified.refused,
      failed: classified.failed,
    };
    return { run, load, target: prepared.target, indexCheck: prepared.indexCheck };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await extracted?.cleanup();
  }
}
