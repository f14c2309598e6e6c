import { Context } from '@temporalio/activity';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Catalog } from '../lib/catalog/catalog.ts';
import type { HookRecord } from '../lib/catalog/hooks.ts';
import { objectLocation } from '../lib/hooks/locations.ts';
import { runHookScript, type ScriptRunResult } from '../lib/hooks/run-script.ts';
import { hookEnvironment, type HookContext, type HookKind } from '../lib/hooks/variables.ts';
import type { Logger } from '../lib/logger.ts';
import { bindActivities } from './bind.ts';
import { heartbeatWhile } from './progress.ts';

/** How many output lines of one run reach the worker's log; the tail in hook_runs keeps the rest. */
const LOGGED_LINES_PER_RUN = 10_000;
/** How much of the output a cancellation reason or warning quotes. */
const REASON_OUTPUT_CHARS = 4000;

export interface HookFailure {
  scope: 'workspace' | 'database';
  runId: number;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** One line that says what happened, then the end of the script's output. */
  message: string;
}

export interface HookRunsOutcome {
  ran: number;
  failures: HookFailure[];
}

/** Why a run failed, in words, followed by the end of what the script printed. */
export function describeHookFailure(
  kind: HookKind,
  scope: string,
  result: ScriptRunResult,
  timeoutSeconds: number,
): string {
  const what = result.timedOut
    ? `was killed at its timeout of ${timeoutSeconds} s`
    : result.aborted
      ? 'was stopped because its job was cancelled'
      : result.signal
        ? `was ended by ${result.signal}`
        : `exited with code ${result.exitCode}`;
  const output = result.outputTail.trim();
  const quoted = output.length > REASON_OUTPUT_CHARS ? `…${output.slice(-REASON_OUTPUT_CHARS)}` : output;
  return `${scope} ${kind} hook ${what}${quoted ? `: ${quoted}` : ' (it printed nothing)'}`;
}

export interface HookDeps {
  catalog: Catalog;
  logger: Logger;
}

/** What a restore tells its hooks: the target, and its parts when it is a URL. */
async function restoreContext(
  catalog: Catalog,
  restoreId: string,
): Promise<{ backupId: string; restore: HookContext['restore'] } | null> {
  const facts = await catalog.hooks.restoreFacts(restoreId);
  if (!facts) return null;
  const url = URL.canParse(facts.target) ? new URL(facts.target) : undefined;
  return {
    backupId: facts.backupId,
    restore: {
      id: restoreId,
      target: facts.target,
      host: url?.hostname,
      port: url ? Number(url.port || 5432) : undefined,
      dbname: url ? decodeURIComponent(url.pathname.replace(/^\//, '')) : undefined,
    },
  };
}

/** What a job's hooks are told of its backup, with where each complete copy lies. */
async function backupContext(
  catalog: Catalog,
  backupId: string,
  databaseStorages: string[],
): Promise<HookContext['backup']> {
  const backup = await catalog.getBackup(backupId);
  const complete = backup.copies.filter((c) => c.status === 'complete');
  const locations = [];
  if (backup.objectKey) {
    for (const copy of complete) {
      locations.push({
        storage: copy.storageName,
        location: objectLocation(copy.storageName, await catalog.storageConfig(copy.storageName), backup.objectKey),
      });
    }
  }
  return {
    id: backup.id,
    trigger: backup.trigger,
    status: backup.status,
    error: backup.error,
    sizeBytes: backup.sizeBytes,
    sha256: backup.objectSha256,
    dumpSha256: backup.sha256,
    locations,
    storages: backup.copies.length > 0 ? backup.copies.map((c) => c.storageName) : databaseStorages,
  };
}

async function contextFor(catalog: Catalog, input: RunHooksInput, hook: HookRecord): Promise<HookContext> {
  const db = await catalog.getDatabase(input.database);
  const context: HookContext = {
    kind: input.kind,
    scope: hook.scope,
    workflowId: input.workflowId,
    database: { name: db.name, host: db.host, port: db.port, dbname: db.dbname, user: db.username },
  };
  let backupId = input.backupId;
  if (input.restoreId) {
    const restore = await restoreContext(catalog, input.restoreId);
    if (restore) {
      backupId ??= restore.backupId;
      context.restore = restore.restore;
    }
  }
  if (backupId) context.backup = await backupContext(catalog, backupId, db.storageNames);
  return context;
}

/** Runs one script in a fresh home directory, its output going to the worker's log (bounded). */
async function runScript(
  deps: HookDeps,
  input: RunHooksInput,
  hook: HookRecord,
  context: HookContext,
): Promise<ScriptRunResult> {
  const { logger } = deps;
  const ctx = Context.current();
  const home = await mkdtemp(path.join(tmpdir(), 'hindsight-hook-'));
  const where = { workflowId: input.workflowId, database: input.database, hook: input.kind, scope: hook.scope };
  let lines = 0;
  logger.info({ ...where, timeoutSeconds: hook.timeoutSeconds }, 'hook script started');
  try {
    return await heartbeatWhile(
      2000,
      () =>
        runHookScript({
          script: hook.script,
          env: hookEnvironment(context, { home, tmpdir: home }),
          cwd: home,
          timeoutSeconds: hook.timeoutSeconds,
          signal: ctx.cancellationSignal,
          onLine: (stream, line) => {
            lines += 1;
            if (lines <= LOGGED_LINES_PER_RUN) logger.info({ ...where, stream }, line);
            else if (lines === LOGGED_LINES_PER_RUN + 1) {
              logger.warn(
                where,
                `hook output beyond ${LOGGED_LINES_PER_RUN} lines is not logged (its last 64 KiB are kept with the run)`,
              );
            }
          },
        }),
      () => ({ kind: input.kind, scope: hook.scope, lines }),
    );
  } finally {
    await rm(home, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function runOne(
  deps: HookDeps,
  input: RunHooksInput,
  hook: HookRecord,
): Promise<{ result: ScriptRunResult; runId: number }> {
  const { catalog, logger } = deps;
  const context = await contextFor(catalog, input, hook);
  const startedAt = new Date();
  const result = await runScript(deps, input, hook, context);
  const status = result.ok ? 'ok' : input.kind === 'pre_backup' ? 'failed' : 'warning';
  const runId = await catalog.hooks.recordRun({
    hookId: hook.id,
    database: input.database,
    scope: hook.scope,
    kind: input.kind,
    workflowId: input.workflowId,
    backupId: context.backup?.id ?? null,
    restoreId: input.restoreId ?? null,
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut: result.timedOut,
    durationMs: result.durationMs,
    outputTail: result.outputTail,
    outputTruncated: result.outputTruncated,
    status,
    startedAt,
  });
  const where = { workflowId: input.workflowId, database: input.database, hook: input.kind, scope: hook.scope };
  const ended = {
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut: result.timedOut,
    durationMs: result.durationMs,
  };
  logger[result.ok ? 'info' : 'warn']({ ...where, ...ended }, 'hook script ended');
  return { result, runId };
}

/** The scripts a job would run, and the longest they may take together (the activity's timeout follows). */
async function hookPlan(
  deps: HookDeps,
  input: { database: string; kind: HookKind },
): Promise<{ count: number; timeoutSeconds: number }> {
  const hooks = await deps.catalog.hooks.forDatabase(input.database, input.kind);
  return { count: hooks.length, timeoutSeconds: hooks.reduce((sum, h) => sum + h.timeoutSeconds, 0) };
}

/**
 * Runs a job's scripts of one kind, workspace before database. A pre_backup failure stops at
 * once (the backup is cancelled); post hooks all run and each failure becomes a warning on the
 * backup or restore. A script's exit status is a result, not an activity failure: it is never
 * retried.
 */
async function runHooks(deps: HookDeps, input: RunHooksInput): Promise<HookRunsOutcome> {
  const { catalog } = deps;
  const hooks = await catalog.hooks.forDatabase(input.database, input.kind);
  const outcome: HookRunsOutcome = { ran: 0, failures: [] };
  for (const hook of hooks) {
    const { result, runId } = await runOne(deps, input, hook);
    outcome.ran += 1;
    if (result.aborted)
      throw new Error(`the ${hook.scope} ${input.kind} hook was stopped because its job was cancelled`);
    if (result.ok) continue;
    const message = describeHookFailure(input.kind, hook.scope, result, hook.timeoutSeconds);
    outcome.failures.push({
      scope: hook.scope,
      runId,
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut,
      message,
    });
    const warning = { source: `${hook.scope} ${input.kind} hook`, message, at: new Date().toISOString() };
    if (input.kind === 'pre_backup') break;
    if (input.kind === 'post_backup' && input.backupId) await catalog.hooks.addBackupWarning(input.backupId, warning);
    if (input.kind === 'post_restore' && input.restoreId)
      await catalog.hooks.addRestoreWarning(input.restoreId, warning);
  }
  return outcome;
}

/** Runs the hook scripts of a job with its context in environment variables. */
export const createHookActivities = (deps: HookDeps) => bindActivities(deps, { hookPlan, runHooks });

export interface RunHooksInput {
  database: string;
  kind: HookKind;
  workflowId: string;
  backupId?: string | undefined;
  restoreId?: string | undefined;
}
