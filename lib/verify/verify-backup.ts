import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteMeter } from '../backup/byte-meter.ts';
import { restoreFailure, type PgRestoreRun } from '../backup/restore.ts';
import type { BackupManifest } from '../backup/manifest.ts';
import type { OpenedBackup } from '../backup/sources.ts';
import type { DecryptionKey } from '../crypto/chunked-gcm.ts';
import { HindsightError, errorMessage } from '../errors.ts';
import { connect, type PgTarget } from '../pg/connection.ts';
import { countRows, type TableRowCount } from '../pg/row-counts.ts';
import { archiveMajorOf, oldestLoadableMajor } from '../pg/tools.ts';
import type { Sandbox, SandboxDriver } from '../sandbox/contract.ts';
import { compareTables, matchSummary, mismatchReason } from './compare-tables.ts';
import { checkIndexes, indexCheckSummary } from './index-check.ts';
import { loadAsRestoreRole } from './load-as-owner.ts';
import { emptyReport, type LoadReport, type StageRecord, type VerificationReport } from './report.ts';
import { stageRecorder } from './stages.ts';

export interface VerifyOptions {
  /** Opens the backup afresh from the first storage that has it (called once per read). */
  open(): Promise<OpenedBackup>;
  key: DecryptionKey;
  sandboxes: SandboxDriver;
  /** Refuses (throws) when the sandbox would not fit the agent's disk budget. */
  checkRoom?: (manifest: BackupManifest) => Promise<void>;
  signal?: AbortSignal;
  /** Called after every stage change, so that the report can be stored as it grows. */
  onReport?: (report: VerificationReport) => void;
  /**
   * Runs against the restored database, as the restore role, before it is counted: the tests change a
   * row here to prove a changed value fails the verification. Nothing in the product sets it.
   */
  beforeCount?: (restored: PgTarget) => Promise<void>;
  /** How long amcheck may spend on the restored indexes (0: not at all); DEFAULT_INDEX_CHECK_SECONDS when not given. */
  indexCheckSeconds?: number;
}

export const DEFAULT_INDEX_CHECK_SECONDS = 300;

const SCRATCH_DATABASE = 'hindsight_verify';

function majorOf(serverVersion: string): number {
  const major = Number.parseInt(serverVersion, 10);
  if (!Number.isInteger(major) || major < 9)
    throw new HindsightError('integrity', `manifest names an unreadable server version "${serverVersion}"`);
  return major;
}

/** pg_restore --verbose's progress lines say nothing a person reading a failure needs. */
const withoutProgress = (stderr: string): string =>
  stderr
    .split('\n')
    .filter(
      (line) =>
        !/^pg_restore: (creating|processing|connecting|executing|launching|finished|disabling|enabling|setting|implied|dropping)\b/.test(
          line,
        ),
    )
    .join('\n')
    .trim();

/**
 * What makes a load fail. `fatal`: the archive itself is in doubt (stream, checksums) or
 * pg_restore failed in a way no entry explains; otherwise data or objects that did not load,
 * named with the server's words (restore-errors.ts says why a refused table is a failure).
 */
function loadFailure(
  run: PgRestoreRun,
  load: LoadReport,
  manifest: BackupManifest,
  target: PgTarget,
  aborted: boolean,
): { message: string; fatal: boolean } | undefined {
  const clean: PgRestoreRun = { ...run, exitCode: run.signal ? run.exitCode : 0 };
  const archive = restoreFailure(clean, manifest, target, aborted);
  if (archive) return { message: archive.message, fatal: true };
  const ignored = Number(/errors ignored on restore: (\d+)/.exec(run.stderrTail)?.[1] ?? 0);
  const explained = load.refused.length + load.failed.length;
  if (run.exitCode !== 0 && (explained === 0 || ignored > explained)) {
    return {
      message: `pg_restore failed (exit ${run.exitCode}) with errors not tied to an archive entry: ${run.stderrTail.split('\n').slice(-3).join(' | ')}`,
      fatal: true,
    };
  }
  if (load.failed.length === 0) return undefined;
  const listed = load.failed
    .slice(0, 5)
    .map((f) => `${f.type} ${f.name}: ${f.reason}`)
    .join('; ');
  return {
    message: `${load.failed.length} entr${load.failed.length === 1 ? 'y' : 'ies'} did not load as ${load.role}, a role without privileges: ${listed}${load.failed.length > 5 ? '; …' : ''}`,
    fatal: false,
  };
}

/**
 * Exact counts, as the restore role: no superuser session ever runs in a database the dump has
 * loaded into (its functions, operators or settings could be waiting for one).
 */
async function countRestored(
  target: PgTarget,
  manifest: BackupManifest,
): Promise<{ restored: TableRowCount[]; sizeBytes: number; schemas: number }> {
  const client = await connect('verification sandbox', target);
  try {
    await client.query('set search_path = pg_catalog, pg_temp');
    // The checksums the manifest recorded, taken the same way (same rows, same settings) in the copy.
    const restored = await countRows(client, { recorded: manifest.tables });
    const facts = await client.query<{ size: string; schemas: string }>(
      `select pg_database_size(current_database())::text as size,
              (select count(*) from pg_namespace where nspname not in ('pg_catalog', 'information_schema') and nspname !~ '^pg_(toast|temp)')::text as schemas`,
    );
    return { restored, sizeBytes: Number(facts.rows[0]!.size), schemas: Number(facts.rows[0]!.schemas) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The object's size and SHA-256 against the manifest, reading it whole. */
async function checkObject(
  opened: OpenedBackup,
  signal: AbortSignal | undefined,
): Promise<{ ok: boolean; message: string }> {
  const { manifest } = opened;
  const meter = new ByteMeter();
  await pipeline(
    opened.object,
    meter,
    new Writable({ write: (_chunk, _encoding, callback) => callback() }),
    signal ? { signal } : {},
  );
  if (meter.bytes !== manifest.object.sizeBytes || meter.sha256 !== manifest.object.sha256) {
    return {
      ok: false,
      message: `the object in storage "${opened.storageName}" (${meter.bytes} bytes, SHA-256 ${meter.sha256}) differs from the manifest (${manifest.object.sizeBytes} bytes, SHA-256 ${manifest.object.sha256})`,
    };
  }
  return { ok: true, message: `SHA-256 ${meter.sha256} matches the manifest` };
}

async function destroyed(sandbox: Sandbox): Promise<StageRecord> {
  const startedAt = new Date().toISOString();
  try {
    await sandbox.destroy();
    return { stage: 'cleanup', startedAt, finishedAt: new Date().toISOString(), ok: true, detail: 'sandbox destroyed' };
  } catch (error) {
    return {
      stage: 'cleanup',
      startedAt,
      finishedAt: new Date().toISOString(),
      ok: false,
      detail: errorMessage(error),
    };
  }
}

/**
 * Proves a logical backup: its object's SHA-256 against the manifest, then a restore into a
 * throwaway server of the backup's major version, then every table's exact row count against the
 * counts taken in the dump's own snapshot. The sandbox is destroyed whatever happens. Never
 * throws for a bad backup: the report says what failed, reason first.
 */
export async function verifyBackup(options: VerifyOptions): Promise<VerificationReport> {
  const report = emptyReport();
  const publish = () => options.onReport?.(structuredClone(report));
  const stages = stageRecorder(report, publish);
  const run: VerificationRun = { options, report, stages, held: {} };
  try {
    const manifest = await checkChecksum(run);
    if (!manifest) return report;
    const { sandbox, archiveMajor } = await startSandbox(run, manifest);
    const loaded = await restoreIntoSandbox(run, manifest, sandbox, archiveMajor);
    if (!loaded) return report;
    await options.beforeCount?.(loaded.target);
    const restored = await countTables(run, loaded.target, manifest);
    compareWithManifest(run, manifest, restored, loaded.dataFailure);
    if (report.reason === null) await checkIndexesStage(run, loaded);
    return report;
  } catch (error) {
    stages.failWith(`${stages.current() ?? 'verification'}: ${errorMessage(error)}`);
    return report;
  } finally {
    if (run.held.sandbox) {
      report.stages.push(await destroyed(run.held.sandbox));
      publish();
    }
  }
}

/** One verification under way: its report, the stage recorder, and the sandbox to destroy once it exists. */
interface VerificationRun {
  options: VerifyOptions;
  report: VerificationReport;
  stages: ReturnType<typeof stageRecorder>;
  held: { sandbox?: Sandbox };
}

/** The checksum stage; the manifest when the object matches it, undefined when the report already failed. */
async function checkChecksum(run: VerificationRun): Promise<BackupManifest | undefined> {
  const { options, report, stages } = run;
  stages.begin('checksum');
  const first = await options.open();
  report.storageName = first.storageName;
  const { manifest } = first;
  report.sourceSizeBytes = manifest.source.sizeBytes;
  report.expectedRows = manifest.tables.reduce((sum, t) => sum + t.rows, 0);
  const checksum = await checkObject(first, options.signal);
  if (!checksum.ok) {
    stages.failWith(`checksum: ${checksum.message}`);
    return undefined;
  }
  stages.end(true, checksum.message);
  return manifest;
}

async function startSandbox(
  run: VerificationRun,
  manifest: BackupManifest,
): Promise<{ sandbox: Sandbox; archiveMajor: number | undefined }> {
  const { options, report, stages } = run;
  stages.begin('sandbox');
  await options.checkRoom?.(manifest);
  const sourceMajor = majorOf(manifest.source.serverVersion);
  const archiveMajor = archiveMajorOf(manifest.tool.version);
  // The source's own major, or the oldest newer one the pg_restore able to read this archive loads into.
  const major = await oldestLoadableMajor(sourceMajor, archiveMajor);
  const sandbox = await options.sandboxes.create({
    major,
    label: `verify ${manifest.database} ${manifest.backupId}`,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  run.held.sandbox = sandbox;
  report.sandbox = {
    driver: sandbox.driver,
    major: sandbox.major,
    confinement: sandbox.confinement,
    detail: sandbox.confinementDetail,
  };
  stages.end(
    true,
    `PostgreSQL ${sandbox.major} for a PostgreSQL ${sourceMajor} source (${sandbox.driver}, confinement: ${sandbox.confinement})`,
  );
  return { sandbox, archiveMajor };
}

/**
 * The restore stage; undefined when the archive itself failed (the report says so), else where to
 * count and, when some data did not load, the reason the verification will fail with.
 */
async function restoreIntoSandbox(
  run: VerificationRun,
  manifest: BackupManifest,
  sandbox: Sandbox,
  archiveMajor: number | undefined,
): Promise<{ target: PgTarget; dataFailure: string | undefined; indexCheck: IndexCheckGrant } | undefined> {
  const { options, report, stages } = run;
  stages.begin('restore');
  const started = performance.now();
  const loaded = await loadAsRestoreRole({
    open: options.open,
    key: options.key,
    sandbox,
    major: sandbox.major,
    archiveMajor,
    database: SCRATCH_DATABASE,
    signal: options.signal,
  });
  const { run: restore, target } = loaded;
  report.timeToUsableSeconds = Math.round(performance.now() - started) / 1000;
  report.load = loaded.load;
  report.restore = { exitCode: restore.exitCode, stderrTail: withoutProgress(restore.stderrTail).slice(-4000) };
  const failure = loadFailure(restore, loaded.load, manifest, target, options.signal?.aborted ?? false);
  if (failure?.fatal) {
    stages.failWith(`restore: ${failure.message}`);
    return undefined;
  }
  // Data that did not load is still counted and compared, so the report shows every table; the reason stays this one.
  const dataFailure = failure ? `restore: ${failure.message}` : undefined;
  if (dataFailure) stages.end(false, dataFailure);
  else
    stages.end(
      true,
      `pg_restore as ${loaded.load.role}: ${loaded.load.entries} entries, ${loaded.load.skipped.length} skipped, ${loaded.load.refused.length} refused, ${restore.restoredBytes} bytes of archive`,
    );
  return { target, dataFailure, indexCheck: loaded.indexCheck };
}

type IndexCheckGrant = Awaited<ReturnType<typeof loadAsRestoreRole>>['indexCheck'];

/** amcheck on every B-tree index of the restored database, within the budget; a corrupt one fails the verification. */
async function checkIndexesStage(run: VerificationRun, loaded: { target: PgTarget; indexCheck: IndexCheckGrant }) {
  const { options, report, stages } = run;
  const budget = options.indexCheckSeconds ?? DEFAULT_INDEX_CHECK_SECONDS;
  if (budget <= 0) return;
  stages.begin('indexes');
  report.indexes = await checkIndexes(loaded.target, loaded.indexCheck, budget);
  const summary = indexCheckSummary(report.indexes);
  if (summary.ok) stages.end(true, summary.detail);
  else stages.failWith(summary.detail);
}

async function countTables(run: VerificationRun, target: PgTarget, manifest: BackupManifest): Promise<TableRowCount[]> {
  const { report, stages } = run;
  stages.begin('count');
  const { restored, sizeBytes, schemas } = await countRestored(target, manifest);
  report.restoredSizeBytes = sizeBytes;
  report.schemas = schemas;
  report.tables = restored.length;
  report.restoredRows = restored.reduce((sum, t) => sum + t.rows, 0);
  stages.end(true, `${restored.length} tables, ${report.restoredRows} rows`);
  return restored;
}

function compareWithManifest(
  run: VerificationRun,
  manifest: BackupManifest,
  restored: TableRowCount[],
  dataFailure: string | undefined,
): void {
  const { report, stages } = run;
  stages.begin('compare');
  report.comparisons = compareTables(manifest.tables, restored);
  const bad = report.comparisons.filter((c) => !c.ok);
  report.mismatches = bad.length;
  if (dataFailure) {
    report.reason = dataFailure;
    stages.end(false, bad.length ? `${bad.length} table(s) differ` : 'row counts match, but the load failed');
    return;
  }
  if (bad.length > 0) {
    stages.failWith(mismatchReason(bad));
    return;
  }
  stages.end(true, matchSummary(report.comparisons));
}
