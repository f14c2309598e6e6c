/**
 * One database of a cluster recovered to a point in time, copied into another server: `pg_dump
 * -Fc` of that database from the sandbox piped into `pg_restore` on the target, with no file in
 * between. The recovered cluster is hostile input like any backup: nothing from it runs with
 * privileges here (pg_dump is a client; pg_restore loads as the target URL's role), roles are
 * recreated from fields Hindsight reads and validates (lib/backup/roles.ts), never from SQL the
 * cluster wrote, and the rows loaded are counted against the rows recovered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { ByteMeter } from '../backup/byte-meter.ts';
import { stderrTail, waitForExit } from '../backup/child-process.ts';
import { prepareRestoreTarget } from '../backup/restore.ts';
import { readDatabaseRoles } from '../backup/roles.ts';
import { createMissingRoles, WITHOUT_OWNERS, type OwnershipReport } from '../backup/roles-restore.ts';
import { HindsightError, errorMessage } from '../errors.ts';
import { connect, describeTarget, libpqChildEnv, serverInfo, type PgTarget } from '../pg/connection.ts';
import { compareRowCounts, countRows, listTables, type TableRowCount } from '../pg/row-counts.ts';
import { toolFor } from '../pg/tools.ts';

export interface ExtractDatabaseOptions {
  /** The promoted sandbox, reached as a role of the recovered cluster, with the database to copy. */
  source: PgTarget;
  /** The recovered server's major: pg_dump must be at least that. */
  sourceMajor: number;
  /** Created when missing; refused when it already holds a table. */
  target: PgTarget;
  /** Recreate the roles the target lacks and keep owners and grants; privileged attributes only with `privileged`. */
  owners?: { privileged: boolean } | undefined;
  signal?: AbortSignal | undefined;
  onBytes?: ((bytes: number) => void) | undefined;
}

/** What an extraction did, for the restore's outcome and report. */
export interface DatabaseExtraction {
  /** The target as `user@host:port/db` (never with a password). */
  target: string;
  created: boolean;
  /** Bytes of the custom-format dump that went through the pipe. */
  bytes: number;
  tables: number;
  rows: number;
  durationMs: number;
  ownership: OwnershipReport;
}

async function withClient<T>(label: string, target: PgTarget, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(label, target);
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function failed(tool: string, child: ChildProcess, exit: { code: number | null }, tail: string): string | null {
  if (exit.code === 0) return null;
  return `${tool} failed (${child.signalCode ? `signal ${child.signalCode}` : `exit ${exit.code}`}): ${tail.split('\n').slice(-3).join(' | ') || 'no message'}`;
}

/** pg_dump's stdout into pg_restore's stdin; both must exit 0, each one's own words kept when not. */
async function pipeDumpIntoRestore(options: ExtractDatabaseOptions, targetMajor: number): Promise<number> {
  const { source, target } = options;
  const pgDump = await toolFor('pg_dump', options.sourceMajor);
  const pgRestore = await toolFor('pg_restore', targetMajor, { archiveMajor: pgDump.major });
  const dump = spawn(pgDump.path, ['--format=custom', '--compress=0', '--no-password', '--dbname', source.database], {
    env: libpqChildEnv(source),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const owners = options.owners ? [] : ['--no-owner', '--no-privileges'];
  const load = ['--exit-on-error', '--single-transaction', '--no-password'];
  const restore = spawn(pgRestore.path, ['--dbname', target.database, ...owners, ...load], {
    env: libpqChildEnv(target),
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const [dumpErr, restoreErr] = [stderrTail(dump), stderrTail(restore)];
  const exits = Promise.all([waitForExit(dump), waitForExit(restore)]);
  const meter = new ByteMeter(options.onBytes);
  const abort = () => [dump, restore].forEach((c) => c.kill('SIGTERM'));
  options.signal?.addEventListener('abort', abort, { once: true });
  let streamError: unknown;
  try {
    await pipeline(dump.stdout, meter, restore.stdin as Writable);
  } catch (error) {
    streamError = error;
    abort();
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
  const [dumpExit, restoreExit] = await exits;
  const problem =
    failed(`pg_dump of the recovered ${describeTarget(source)}`, dump, dumpExit, dumpErr()) ??
    failed(`pg_restore into ${describeTarget(target)}`, restore, restoreExit, restoreErr()) ??
    (streamError ? `copying the dump failed: ${errorMessage(streamError)}` : null);
  if (problem)
    throw new HindsightError('tool_failed', options.signal?.aborted ? `${problem} (the restore was aborted)` : problem);
  return meter.bytes;
}

function checkCounts(expected: TableRowCount[], actual: TableRowCount[], target: PgTarget): void {
  const mismatches = compareRowCounts(expected, actual);
  if (mismatches.length === 0) return;
  const first = mismatches[0]!;
  throw new HindsightError(
    'integrity',
    `${describeTarget(target)} holds other row counts than the recovered database (${mismatches.length} table(s), e.g. ${JSON.stringify(first)}): the copy is incomplete`,
  );
}

/**
 * Refuses, before anything is recovered, a target database that already holds tables. A target
 * that cannot be reached from here is left to the restore itself, which checks again.
 */
export async function refuseFilledTarget(target: PgTarget): Promise<void> {
  const tables = await withClient('extraction target', target, listTables).catch(() => []);
  if (tables.length > 0) {
    throw new HindsightError(
      'conflict',
      `restore target ${describeTarget(target)} already holds ${tables.length} table(s): restore into a new or empty database (a missing one is created)`,
    );
  }
}

/**
 * Copies the recovered database into the target and proves it by exact row counts. A target that
 * is missing is created; one that holds tables is refused (prepareRestoreTarget), so that no data
 * of the target is ever mixed with or replaced by the recovered copy.
 */
export async function extractDatabase(options: ExtractDatabaseOptions): Promise<DatabaseExtraction> {
  const started = Date.now();
  const { source, target } = options;
  const { created } = await prepareRestoreTarget('extraction target', target);
  const recovered = await withClient('recovered database', source, async (client) => ({
    counts: await countRows(client),
    roles: options.owners ? await readDatabaseRoles(client) : null,
  }));
  const { targetMajor, ownership } = await withClient('extraction target', target, async (client) => ({
    targetMajor: (await serverInfo(client)).major,
    ownership: recovered.roles
      ? await createMissingRoles(client, target, { roles: recovered.roles, privileged: options.owners!.privileged })
      : WITHOUT_OWNERS,
  }));
  const bytes = await pipeDumpIntoRestore(options, targetMajor);
  const loaded = await withClient('extraction target', target, countRows);
  checkCounts(recovered.counts, loaded, target);
  return {
    target: describeTarget(target),
    created,
    bytes,
    tables: loaded.length,
    rows: loaded.reduce((sum, t) => sum + t.rows, 0),
    durationMs: Date.now() - started,
    ownership,
  };
}
