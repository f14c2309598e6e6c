import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import type { CatalogBackupRun } from '../../lib/catalog-backup/run.ts';
import { defineWorkflow } from './common.ts';

/**
 * `catalogBackup`: a backup of Hindsight's own catalog to every storage that holds backups
 * (lib/catalog-backup/). Runs from the schedule `catalog-backup`, from `hindsight catalog backup`
 * (`catalog-backup/<time>`), and after configuration changes as `catalog-backup/after-change`:
 * each change signals (signal-with-start) `configChanged`, and the run backs up once the
 * configuration has been quiet for `quietSeconds` — one backup for a burst of changes.
 */
export const CATALOG_BACKUP_SCHEDULE_ID = 'catalog-backup';
export const CATALOG_BACKUP_AFTER_CHANGE_ID = 'catalog-backup/after-change';
export const catalogBackupRunId = (time: Date): string => `catalog-backup/${time.toISOString()}`;

export const catalogBackupInput = z
  .object({
    trigger: z.enum(['schedule', 'manual', 'change']),
    /** Catalog backups each storage keeps; older ones are removed after a backup. */
    keep: z.number().int().min(1).max(10000).default(14),
    /** After a change: how long the configuration must stay unchanged before the backup. */
    quietSeconds: z.number().int().min(0).max(86400).default(60),
  })
  .strict();
export type CatalogBackupInput = z.input<typeof catalogBackupInput>;

/** What a run did: its backup id, and per storage whether the copy went in and which older ones went out. */
export type CatalogBackupOutcome = CatalogBackupRun;

export const catalogBackupWorkflow = defineWorkflow<CatalogBackupInput, CatalogBackupOutcome>(
  'catalogBackup',
  'catalog',
);

/** "The configuration changed": the after-change run waits for quiet again, and backs up after it. */
export const configChangedSignal = defineSignal('configChanged');
