/**
 * A restore drill: the backup restored into a fresh database on the operator's own server by the
 * restore path every restore takes (the authenticated stream, pg_restore --no-owner in one
 * transaction), timed from the first byte read to the last index built, sized, checked table by
 * table against the manifest, then dropped whatever happened.
 */
import type pg from 'pg';
import { restoreFailure, runPgRestore } from '../backup/restore.ts';
import { compressedWhere, isDirectoryArchive, restoreJobs } from '../backup/manifest.ts';
import type { OpenedBackup } from '../backup/sources.ts';
import type { DecryptionKey } from '../crypto/chunked-gcm.ts';
import { HindsightError, errorMessage } from '../errors.ts';
import { connect, describeTarget, serverInfo, type PgTarget } from '../pg/connection.ts';
import { countRows } from '../pg/row-counts.ts';
import { archiveMajorOf } from '../pg/tools.ts';
import { compareTables, mismatchReason } from '../verify/compare-tables.ts';
import { createDrillDatabase, dropDrillDatabase, dropLeftoverDrills, drillDatabaseName } from './drill-database.ts';
import { drillTestHooks } from './test-hooks.ts';

export interface DrillOptions {
  database: string;
  /** The drill's server; its database is where the drill connects to create and drop its own. */
  server: PgTarget;
  /** The name of the drill's database (drillDatabaseName). */
  drillDatabase: string;
  open(): Promise<OpenedBackup>;
  key: DecryptionKey;
  signal?: AbortSignal | undefined;
  onProgress?: (bytes: { readBytes: number; restoredBytes: number }) => void;
  /** Told what happened to drill databases that earlier drills left. */
  onLeftovers?: (leftovers: Awaited<ReturnType<typeof dropLeftoverDrills>>) => void;
}

export interface DrillMeasure {
  timeToUsableSeconds: number;
  restoredBytes: number;
  tablesChecked: number;
  rowsChecked: number;
}

export { drillDatabaseName };

/** Connects to the drill's server; a refusal names the server (never its password) and the fix. */
async function connectServer(options: DrillOptions): Promise<pg.Client> {
  try {
    return await connect(`restore drill target of ${options.database}`, options.server);
  } catch (error) {
    const kind = error instanceof HindsightError ? error.kind : 'unreachable';
    // The server's own words; connect()'s wrapping speaks of a database's saved password, not of this URL.
    const said = errorMessage((error as { cause?: unknown }).cause ?? error);
    throw new HindsightError(
      kind,
      `restore drill target ${describeTarget(options.server)} refused the drill of "${options.database}": ${said} (correct it with hindsight db update ${options.database} --restore-drill-target <postgres-url>)`,
    );
  }
}

/** Streams the backup into the drill database; the seconds this took are the time to usable. */
async function restoreInto(options: DrillOptions, target: PgTarget, serverMajor: number) {
  const opened = await options.open();
  const { manifest } = opened;
  const started = performance.now();
  const run = await runPgRestore({
    label: `restore drill of ${options.database}`,
    object: opened.object,
    expect: opened.expect,
    key: options.key,
    target,
    signal: options.signal,
    onProgress: options.onProgress,
    serverMajor,
    archiveMajor: archiveMajorOf(manifest.tool.version),
    compression: compressedWhere(manifest),
    directory: isDirectoryArchive(manifest) ? { jobs: restoreJobs(manifest) } : undefined,
  }).catch((error: unknown) => {
    opened.object.destroy();
    throw error;
  });
  const failure = restoreFailure(run, manifest, target, options.signal?.aborted ?? false);
  if (failure) throw failure;
  return { manifest, seconds: Math.round(performance.now() - started) / 1000 };
}

/** Size, exact counts and (where the manifest has them) content checksums of the restored tables. */
async function checkRestored(target: PgTarget, manifest: Awaited<ReturnType<typeof restoreInto>>['manifest']) {
  const client = await connect('restore drill database', target);
  try {
    await client.query('set search_path = pg_catalog, pg_temp');
    const restored = await countRows(client, { recorded: manifest.tables });
    const { rows } = await client.query<{ size: string }>('select pg_database_size(current_database())::text as size');
    return { restored, sizeBytes: Number(rows[0]!.size) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The dump is hostile input, and what it plants (an index expression, a default) runs during the
 * restore with the drill role's rights on the operator's server: a superuser could reach that
 * host's files and programs. So a drill runs only as a role without SUPERUSER.
 */
async function refuseSuperuser(admin: pg.Client, options: DrillOptions): Promise<void> {
  const { rows } = await admin.query<{ super: boolean; name: string }>(
    'select rolsuper as super, current_user as name from pg_roles where rolname = current_user',
  );
  if (!rows[0]?.super) return;
  throw new HindsightError(
    'access_denied',
    `restore drill target ${describeTarget(options.server)}: role "${rows[0].name}" is a superuser, and a restored dump must not run as one there: give the drill a role with CREATEDB and nothing more (hindsight db update ${options.database} --restore-drill-target <postgres-url>)`,
  );
}

/** Makes the drill's fresh database, after dropping those earlier drills left; returns the server's major version. */
async function prepare(options: DrillOptions): Promise<number> {
  const admin = await connectServer(options);
  try {
    const major = (await serverInfo(admin)).major;
    await refuseSuperuser(admin, options);
    options.onLeftovers?.(await dropLeftoverDrills(admin, options.database, options.drillDatabase));
    await createDrillDatabase(admin, options.drillDatabase).catch((error: unknown) => {
      // A name taken means another drill of the database started in the same second: never reuse it.
      const taken = (error as { code?: string }).code === '42P04';
      throw new HindsightError(
        taken ? 'conflict' : 'access_denied',
        `restore drill target ${describeTarget(options.server)}: cannot create database "${options.drillDatabase}": ${errorMessage(error)} (${taken ? 'another drill started in the same second: run it again' : "the drill's role needs CREATEDB"})`,
      );
    });
    return major;
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/** Drops the drill's database on a connection of its own (the first may have idled out during a long restore). */
async function dropAfter(options: DrillOptions, serverMajor: number): Promise<void> {
  try {
    const admin = await connectServer(options);
    try {
      await dropDrillDatabase(admin, options.drillDatabase, serverMajor);
    } finally {
      await admin.end().catch(() => undefined);
    }
  } catch (error) {
    throw new HindsightError(
      'tool_failed',
      `restore drill database "${options.drillDatabase}" on ${describeTarget(options.server)} could not be dropped: ${errorMessage(error)} (the next drill drops it, or drop it yourself)`,
    );
  }
}

/**
 * Runs the drill and drops its database, also when it fails. Throws a HindsightError naming what
 * failed; returns the measures when the restored data matches the manifest.
 */
export async function runRestoreDrill(options: DrillOptions): Promise<DrillMeasure> {
  const serverMajor = await prepare(options);
  let failed = true;
  try {
    const target = { ...options.server, database: options.drillDatabase };
    const { manifest, seconds } = await restoreInto(options, target, serverMajor);
    const { restored, sizeBytes } = await checkRestored(target, manifest);
    await drillTestHooks.beforeDrop?.(target);
    const comparisons = compareTables(manifest.tables, restored);
    const bad = comparisons.filter((c) => !c.ok);
    if (bad.length > 0)
      throw new HindsightError('integrity', `restore drill of backup ${manifest.backupId}: ${mismatchReason(bad)}`);
    failed = false;
    return {
      timeToUsableSeconds: seconds,
      restoredBytes: sizeBytes,
      tablesChecked: comparisons.length,
      rowsChecked: restored.reduce((sum, t) => sum + t.rows, 0),
    };
  } finally {
    // After a failure the drop is still tried, but the drill's own error is the one reported.
    const dropped = await dropAfter(options, serverMajor).then(
      () => undefined,
      (error: unknown) => error,
    );
    if (dropped && !failed) throw dropped; // eslint-disable-line no-unsafe-finally
  }
}
