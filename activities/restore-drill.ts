import { Context } from '@temporalio/activity';
import { chooseBackupToRestore } from '../lib/backup/restore-policy.ts';
import type { Catalog } from '../lib/catalog/catalog.ts';
import type { RestoreDrillTrigger } from '../lib/catalog/restore-drills.ts';
import type { Keyring } from '../lib/crypto/keyring.ts';
import { drillDatabaseName, runRestoreDrill } from '../lib/drill/run-drill.ts';
import { HindsightError, errorMessage } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { PgTarget } from '../lib/pg/connection.ts';
import type { RestoreDrillOutcome } from '../temporal/contracts/restore-drill.ts';
import { bindActivities } from './bind.ts';
import { createOutbox, type NotificationDeps } from './notifications.ts';
import { heartbeatWhile, progressReporter } from './progress.ts';
import { openRecordedBackup, readableCopies, withDrivers } from './storage-access.ts';

export interface RestoreDrillDeps extends NotificationDeps {
  catalog: Catalog;
  keyring: Keyring;
  logger: Logger;
}

interface DrillInput {
  drillId: string;
  database: string;
  trigger: RestoreDrillTrigger;
  workflowId: string;
}

async function drillTargetOf(catalog: Catalog, database: string): Promise<PgTarget> {
  const server = await catalog.restoreDrills.drillTarget(database);
  if (!server) {
    throw new HindsightError(
      'bad_input',
      `database "${database}" has no restore drill target: set one with hindsight db update ${database} --restore-drill-target <postgres-url>`,
    );
  }
  return server;
}

/** A failed drill is a failed proof that the backup restores where it matters: it notifies as a failed verification does. */
async function notifyDrillFailed(deps: RestoreDrillDeps, drillId: string): Promise<void> {
  try {
    const drill = await deps.catalog.restoreDrills.get(drillId);
    if (drill.status !== 'failed') return;
    const where = drill.target ? ` into ${drill.target.host}:${drill.target.port}` : '';
    await createOutbox(deps).queue({
      database: drill.database,
      event: 'verification_failed',
      message: `restore drill of backup ${drill.backupId ?? '?'} of database "${drill.database}"${where} failed: ${drill.error ?? 'no reason recorded'}`,
      dedupeKey: `restore-drill:${drill.id}:failed`,
    });
  } catch (error) {
    // The drill's record stands on its own.
    deps.logger.error({ drillId, err: errorMessage(error) }, 'restore drill notification not queued');
  }
}

/** Records a drill that failed before or around its activity (no target, no backup, a lost worker) and notifies. */
async function failRestoreDrill(deps: RestoreDrillDeps, input: DrillInput & { error: string }): Promise<void> {
  await deps.catalog.restoreDrills.recordFailed({ ...input, id: input.drillId });
  await notifyDrillFailed(deps, input.drillId);
}

/** The drill itself: the newest complete backup into a fresh database on the target, measured, checked and dropped. */
async function performRestoreDrill(deps: RestoreDrillDeps, input: DrillInput): Promise<RestoreDrillOutcome> {
  const { catalog, keyring, logger } = deps;
  const ctx = Context.current();
  const server = await drillTargetOf(catalog, input.database);
  const backupId = await chooseBackupToRestore(catalog, input.database, undefined);
  const backup = await catalog.getBackup(backupId);
  const drillDatabase = drillDatabaseName(input.database, new Date());
  await catalog.restoreDrills.begin({
    ...input,
    id: input.drillId,
    backupId,
    target: { ...server, database: drillDatabase },
  });
  const where = { database: input.database, backupId, drillId: input.drillId, drillDatabase };
  logger.info(where, 'restore drill started');
  const report = progressReporter();
  try {
    const storages = await readableCopies(catalog, backupId, ctx.info.attempt);
    const measure = await withDrivers(catalog, storages, (sources) =>
      heartbeatWhile(5000, () =>
        runRestoreDrill({
          database: input.database,
          server,
          drillDatabase,
          open: () => openRecordedBackup(sources, input.database, backup, logger),
          key: keyring.decryption(),
          signal: ctx.cancellationSignal,
          onProgress: (p) => report(p),
          onLeftovers: ({ dropped, kept }) => {
            if (dropped.length > 0) logger.warn({ ...where, dropped }, 'dropped drill databases an earlier drill left');
            if (kept.length > 0) logger.warn({ ...where, kept }, 'drill databases left by an earlier drill are in use');
          },
        }),
      ),
    );
    await catalog.restoreDrills.finish(input.drillId, { status: 'successful', ...measure });
    logger.info({ ...where, ...measure }, 'restore drill finished');
    return { drillId: input.drillId, status: 'successful', error: null };
  } catch (error) {
    const message = errorMessage(error);
    await catalog.restoreDrills.finish(input.drillId, { status: 'failed', error: message });
    await notifyDrillFailed(deps, input.drillId);
    logger.warn({ ...where, err: message }, 'restore drill failed');
    return { drillId: input.drillId, status: 'failed', error: message };
  }
}

export const createRestoreDrillActivities = (deps: RestoreDrillDeps) =>
  bindActivities(deps, { performRestoreDrill, failRestoreDrill });
