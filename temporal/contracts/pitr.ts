import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { PROGRESS_SIGNAL, backupIdSchema, defineWorkflow } from './common.ts';
import { restoreTargetSchema, restoreWorkflowId } from './restore.ts';
import { agentNameSchema, databaseNameSchema } from '../../lib/names.ts';
import type { ChainView } from '../../lib/pitr/chain-view.ts';
import type { DatabaseExtraction } from '../../lib/pitr/extract-database.ts';
import type { ReceiverStatus } from '../../lib/wal/receiver.ts';
import type { RestoredServerFacts } from '../../lib/pitr/result-instructions.ts';
import type { RestoreFigures } from '../../lib/pitr/restore-figures.ts';
import type { DrillCheck } from '../../lib/pitr/drill-checks.ts';
import { pitrTargetSchema } from '../../lib/pitr/target.ts';

export type { ChainPointView, ChainView, GapView, WindowView } from '../../lib/pitr/chain-view.ts';
export { RFC3339_WITH_OFFSET, pitrTargetSchema, type PitrTarget } from '../../lib/pitr/target.ts';

/**
 * Point-in-time recovery: `walArchiver` (`wal/<db>`, streams WAL forever), `baseBackup`
 * (`basebackup/<db>/<iso-time>`, also the schedule `basebackup/<db>`), `walChainMonitor`
 * (`walchain/<db>`, windows and gaps) and `pitrRestore` (`restore/<db>/<iso-time>`). LSNs travel
 * as text (`16/B374D848`): Temporal payloads are JSON, which has no bigint.
 */

// ---- WAL archiver

export const walArchiverInput = z
  .object({
    database: databaseNameSchema,
    /** How long one activity run streams before the workflow continues as new (tests shorten it). */
    runForMs: z
      .number()
      .int()
      .min(1000)
      .max(24 * 3600_000)
      .optional(),
    /** Carried across continue-as-new so that `status` keeps its counters. */
    carried: z.object({ runs: z.number().int().min(0) }).optional(),
  })
  .strict();
export type WalArchiverInput = z.input<typeof walArchiverInput>;

export interface WalArchiverStatus {
  database: string;
  state: 'starting' | 'streaming' | 'reconnecting' | 'stopped' | 'disabled' | 'failed';
  taskQueue: string | null;
  runs: number;
  /** The receiver's own report (lib/wal/receiver.ts), live through the progress signal. */
  receiver: Omit<ReceiverStatus, 'database' | 'state'> | null;
  error: string | null;
}

export const walArchiverWorkflow = defineWorkflow<WalArchiverInput, WalArchiverStatus>('walArchiver', 'backup');
export const walArchiverId = (database: string): string => `wal/${database}`;

export const walStatusQuery = defineQuery<WalArchiverStatus>('status');
export const stopWalArchiverSignal = defineSignal<[reason?: string]>('stop');
/** Sent by the streaming activity (through the worker's progress sink) so that `status` is live. */
export const walReceiverReportSignal = defineSignal<[NonNullable<WalArchiverStatus['receiver']>]>(PROGRESS_SIGNAL);

// ---- base backups

export const baseBackupInput = z
  .object({
    database: databaseNameSchema,
    baseBackupId: backupIdSchema('baseBackupId').optional(),
    trigger: z.enum(['manual', 'schedule', 'chain-gap', 'pitr-enabled']).default('manual'),
  })
  .strict();
export type BaseBackupInput = z.input<typeof baseBackupInput>;

export interface BaseBackupProgress {
  baseBackupId: string;
  database: string;
  stage: 'starting' | 'streaming' | 'complete' | 'failed';
  rawBytes: number;
  storedBytes: number;
  startLsn: string | null;
  stopLsn: string | null;
  timeline: number | null;
  error: string | null;
  /** Known once complete: a full, or an increment over `parentId`; `kindReason` says why a full was taken. */
  kind?: 'full' | 'incremental' | null;
  parentId?: string | null;
  kindReason?: string | null;
}

export const baseBackupWorkflow = defineWorkflow<BaseBackupInput, BaseBackupProgress>('baseBackup', 'backup');
export const baseBackupWorkflowId = (database: string, isoTime: string): string => `basebackup/${database}/${isoTime}`;
export const baseBackupScheduleId = (database: string): string => `basebackup/${database}`;

export const baseBackupProgressQuery = defineQuery<BaseBackupProgress>('progress');
export const baseBackupProgressSignal = defineSignal<[{ rawBytes: number; storedBytes: number }]>(PROGRESS_SIGNAL);

// ---- WAL chain monitor

export const walChainMonitorInput = z
  .object({
    database: databaseNameSchema,
    intervalSeconds: z.number().int().min(1).max(86_400).default(60),
    /** Gaps already notified (timeline:fromLsn), carried over a continue-as-new. */
    knownGaps: z.array(z.string()).max(1000).default([]),
  })
  .strict();
export type WalChainMonitorInput = z.input<typeof walChainMonitorInput>;

export interface ChainMonitorState {
  database: string;
  last: ChainView | null;
  lastError: string | null;
  rounds: number;
  baseBackupsStarted: Array<{ workflowId: string; reason: string; at: string }>;
}

export const walChainMonitorWorkflow = defineWorkflow<WalChainMonitorInput, void>('walChainMonitor', 'health');
export const walChainMonitorWorkflowId = (database: string): string => `walchain/${database}`;

export const chainQuery = defineQuery<ChainMonitorState>('chain');

// ---- point-in-time restore

export const pitrDestinationSchema = z.union(
  [
    z
      .object({
        directory: z
          .string()
          .startsWith('/', 'to.directory must be an absolute path')
          .refine((d) => !d.split('/').includes('..'), 'to.directory must not contain ".."'),
        /** The agent whose host holds the directory; default: the database's agent, else any main worker. */
        agent: agentNameSchema('to.agent must be an agent name').optional(),
        /** Stop the server once recovery is verified, leaving the data directory (absent in older histories). */
        thenStop: z.boolean().optional(),
      })
      .strict(),
    z.object({ sandbox: z.literal(true) }).strict(),
    /**
     * One database extracted into another server: the cluster is recovered in a sandbox, then the
     * restored database is copied (pg_dump | pg_restore) into `url`, its password sealed as for a
     * logical restore (contracts/restore.ts); owners as `restore --with-owners` keeps them.
     */
    restoreTargetSchema.options[1]
      .extend({
        withOwners: z.boolean().optional(),
        privilegedRoles: z.boolean().optional(),
      })
      .refine((t) => !t.privilegedRoles || t.withOwners, 'to.privilegedRoles applies only with to.withOwners'),
  ],
  {
    error:
      'to must be {"directory": "/absolute/empty/dir"} (optionally with "agent" and "thenStop"), {"sandbox": true} or {"url": "postgres://user@host:port/db"} (optionally with "sealedPassword", "withOwners" and "privilegedRoles")',
  },
);
export type PitrDestination = z.output<typeof pitrDestinationSchema>;

export const pitrRestoreInput = z
  .object({
    database: databaseNameSchema,
    target: pitrTargetSchema,
    to: pitrDestinationSchema,
  })
  .strict();
export type PitrRestoreInput = z.input<typeof pitrRestoreInput>;

export type PitrStage = 'planning' | 'extracting' | 'recovering' | 'promoted' | 'failed' | 'aborted';

export interface PitrProgress {
  database: string;
  stage: PitrStage;
  baseBackupId: string | null;
  timeline: number | null;
  window: string | null;
  extractedBytes: number;
  segmentsFetched: number;
  replayLsn: string | null;
  error: string | null;
}

export interface PitrOutcome {
  database: string;
  baseBackupId: string;
  timeline: number;
  /** The end of recovery: pg_last_wal_replay_lsn() once promoted. */
  reachedLsn: string;
  /** The commit time of the last transaction replayed (pg_last_xact_replay_timestamp()), if any. */
  lastTransactionTime: string | null;
  /** The timeline the restored server writes on after promotion. */
  newTimeline: number;
  /** Where it runs: a kept directory, or a removed sandbox. */
  dataDirectory: string | null;
  port: number | null;
  kept: boolean;
  /** Set when recovery ran out of WAL before the time target (an idle database) and was ended at the last record instead. */
  note: string | null;
  segmentsFetched: number;
  /** The base backups the restore extracted, full first: more than one when an incremental chain was combined. */
  baseBackupChain?: string[];
  /** The kept directory's server: where it listens and whether it still runs (lib/pitr/result-instructions.ts). */
  server?: RestoredServerFacts;
  /** With `to.url`: the database copied from the recovered sandbox into that server (lib/pitr/extract-database.ts). */
  extracted?: DatabaseExtraction;
  /** What the restore measured: time to a usable server, its stages, WAL replayed and its rate (absent in older histories). */
  figures?: RestoreFigures;
  /** A drill's pg_verifybackup and pg_amcheck outcomes (lib/pitr/drill-checks.ts). */
  drillChecks?: { verifyBackup?: DrillCheck; amcheck?: DrillCheck };
}

export const pitrRestoreWorkflow = defineWorkflow<PitrRestoreInput, PitrOutcome>('pitrRestore', 'restore');
export const pitrRestoreWorkflowId = restoreWorkflowId;

export const pitrProgressQuery = defineQuery<PitrProgress>('progress');
export const abortPitrSignal = defineSignal<[reason?: string]>('abort');
export const pitrProgressSignal =
  defineSignal<[{ extractedBytes?: number; segmentsFetched?: number; replayLsn?: string }]>(PROGRESS_SIGNAL);
