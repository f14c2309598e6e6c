import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';

/**
 * Inputs, queries and signals of the WAL archiver and base backup workflows. The CLI and console
 * import this module; it holds no workflow code. LSNs travel as text (`16/B374D848`).
 */
z.config({ jitless: true });

const databaseName = z
  .string({ error: 'database is required' })
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'database must be a registered name: lowercase letters, digits, "_" or "-"');

export const walArchiverId = (database: string): string => `wal/${database}`;
export const baseBackupWorkflowId = (database: string, isoTime: string): string => `basebackup/${database}/${isoTime}`;
export const baseBackupScheduleId = (database: string): string => `basebackup/${database}`;
/** Host-bound activities of a database with an agent run on that agent's queue. */
export const agentTaskQueue = (agent: string): string => `agent/${agent}`;

export const walArchiverInput = z.object({
  database: databaseName,
  /** How long one activity run streams before the workflow continues as new (tests shorten it). */
  runForMs: z.number().int().min(1000).max(24 * 3600_000).optional(),
  /** Carried across continue-as-new so that `status` keeps its counters. */
  carried: z.object({ runs: z.number().int().min(0) }).optional(),
}).strict();
export type WalArchiverInput = z.input<typeof walArchiverInput>;

export const baseBackupInput = z.object({
  database: databaseName,
  baseBackupId: z.string().regex(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/, 'baseBackupId must look like 20261123T103000Z-3f9a1c').optional(),
  trigger: z.enum(['manual', 'schedule', 'chain-gap', 'pitr-enabled']).default('manual'),
}).strict();
export type BaseBackupInput = z.input<typeof baseBackupInput>;

export interface WalArchiverStatus {
  database: string;
  state: 'starting' | 'streaming' | 'reconnecting' | 'stopped' | 'disabled' | 'failed';
  taskQueue: string | null;
  runs: number;
  receiver: {
    slot: string;
    systemIdentifier: string | null;
    walSegmentSize: number | null;
    serverFlushLsn: string | null;
    durableLsn: string | null;
    durableAt: string | null;
    unarchivedBytes: number | null;
    slotRetainedBytes: number | null;
    segmentsArchived: number;
    partialUploads: number;
    historiesArchived: number;
    receiverStarts: number;
    lastError: string | null;
    updatedAt: string;
  } | null;
  error: string | null;
}

export const walStatusQuery = defineQuery<WalArchiverStatus>('status');
export const stopWalArchiverSignal = defineSignal<[reason?: string]>('stop');
/** Sent by the streaming activity (through the worker's progress sink) so that `status` is live. */
export const walReceiverReportSignal = defineSignal<[NonNullable<WalArchiverStatus['receiver']>]>('reportProgress');

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

export const baseBackupProgressQuery = defineQuery<BaseBackupProgress>('progress');
export const baseBackupProgressSignal = defineSignal<[{ rawBytes: number; storedBytes: number }]>('reportProgress');
