/**
 * Changing the settings of a database whose WAL already streams, without turning PITR off and on:
 * the archiver re-reads the slot limit and its policy, the partial interval and the synchronous
 * mode every few seconds (lib/wal/receiver/health.ts; a changed mode restarts the stream in it),
 * and the base-backup schedule is replaced in Temporal here.
 */
import { HindsightError } from '../../lib/errors.ts';
import type { PitrConfig } from '../../lib/catalog/pitr-settings.ts';
import { setDatabaseCron } from '../../temporal/schedules.ts';
import type { ServiceContext } from '../context.ts';
import { parseOrThrow } from '../input.ts';
import { pitrSettingsInput, type PitrSettingsInput, type PitrSettingsView } from './input.ts';

const MB = 1024 * 1024;

export function settingsOf(config: PitrConfig): PitrSettingsView {
  return {
    slotMaxMb: config.slotMaxBytes === null ? null : Math.round(config.slotMaxBytes / MB),
    baseSchedule: config.baseBackupSchedule,
    partialIntervalMs: config.partialIntervalMs,
    baseFullEvery: config.baseBackupFullEvery,
    slotOverLimit: config.slotOverLimit,
    synchronous: config.synchronous,
  };
}

/** Only the settings given change; PITR must be on (turning it on takes the same settings). */
export async function updatePitrSettings(
  ctx: ServiceContext,
  database: string,
  raw: PitrSettingsInput,
): Promise<PitrSettingsView> {
  const { catalog } = ctx.runtime;
  const input = parseOrThrow(pitrSettingsInput, raw);
  const db = await catalog.getDatabase(database);
  if (!(await catalog.wal.config(database)).enabled) {
    throw new HindsightError(
      'conflict',
      `PITR is off for database "${database}": turn it on with these settings instead (the console's PITR panel, or hindsight db pitr ${database} on)`,
    );
  }
  const after = await catalog.wal.updateSettings(database, {
    ...(input.slotMaxMb !== undefined ? { slotMaxBytes: input.slotMaxMb === null ? null : input.slotMaxMb * MB } : {}),
    ...(input.baseSchedule !== undefined ? { baseBackupSchedule: input.baseSchedule } : {}),
    ...(input.partialIntervalMs !== undefined ? { partialIntervalMs: input.partialIntervalMs } : {}),
    ...(input.baseFullEvery !== undefined ? { baseBackupFullEvery: input.baseFullEvery } : {}),
    ...(input.slotOverLimit !== undefined ? { slotOverLimit: input.slotOverLimit } : {}),
    ...(input.synchronous !== undefined ? { synchronous: input.synchronous } : {}),
  });
  // SKIP overlap as when PITR was turned on: a base backup still running is not doubled.
  if (input.baseSchedule !== undefined)
    await setDatabaseCron(ctx, 'baseBackups', database, input.baseSchedule, db.timezone);
  return settingsOf(after);
}
