import { defineQuery, defineSignal } from '@temporalio/workflow';
import { z } from 'zod';

/**
 * Inputs, queries and signals of the point-in-time restore and WAL-chain monitor workflows. The
 * CLI, the console and the workflows import this module; it holds no workflow code. LSNs travel as
 * text (`16/B374D848`): Temporal payloads are JSON, which has no bigint.
 */
z.config({ jitless: true });

const databaseName = z
  .string({ error: 'database is required' })
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'database must be a registered name: lowercase letters, digits, "_" or "-"');

/** RFC 3339 with an explicit offset (docs/design.md, failure mode 4): a bare local time means nothing on a server in another zone. */
export const RFC3339_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$/;

export const pitrTargetSchema = z.union([
  z.object({
    time: z.string()
      .regex(RFC3339_WITH_OFFSET, 'target.time must be RFC 3339 with an explicit offset, e.g. 2026-11-23T10:15:30Z or 2026-11-23T11:15:30+01:00')
      .refine((t) => !Number.isNaN(Date.parse(t.replace(' ', 'T'))), 'target.time is not a real date and time'),
  }).strict(),
  z.object({ lsn: z.string().regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, 'target.lsn must look like 16/B374D848') }).strict(),
  z.object({ xid: z.union([z.string().regex(/^\d{1,20}$/), z.number().int().positive()]).transform(String) }).strict(),
  z.object({ name: z.string().min(1).max(63, 'target.name: restore point names are at most 63 bytes') }).strict(),
  z.literal('latest'),
  z.literal('immediate'),
], { error: 'target must be {"time": "<RFC 3339>"}, {"lsn": "X/Y"}, {"xid": "<n>"}, {"name": "<restore point>"}, "latest" or "immediate"' });
export type PitrTarget = z.output<typeof pitrTargetSchema>;

export const pitrDestinationSchema = z.union([
  z.object({
    directory: z.string().startsWith('/', 'to.directory must be an absolute path').refine((d) => !d.split('/').includes('..'), 'to.directory must not contain ".."'),
    /** The agent whose host holds the directory; default: the database's agent, else any main worker. */
    agent: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'to.agent must be an agent name').optional(),
  }).strict(),
  z.object({ sandbox: z.literal(true) }).strict(),
], { error: 'to must be {"directory": "/absolute/empty/dir"} (optionally with "agent") or {"sandbox": true}' });
export type PitrDestination = z.output<typeof pitrDestinationSchema>;

export const pitrRestoreInput = z.object({
  database: databaseName,
  target: pitrTargetSchema,
  to: pitrDestinationSchema,
}).strict();
export type PitrRestoreInput = z.input<typeof pitrRestoreInput>;

export const walChainMonitorInput = z.object({
  database: databaseName,
  intervalSeconds: z.number().int().min(1).max(86_400).default(60),
  /** Gaps already notified (timeline:fromLsn), carried over a continue-as-new. */
  knownGaps: z.array(z.string()).max(1000).default([]),
}).strict();
export type WalChainMonitorInput = z.input<typeof walChainMonitorInput>;

export const pitrRestoreWorkflowId = (database: string, at: Date): string => `restore/${database}/${at.toISOString()}`;
export const walChainMonitorWorkflowId = (database: string): string => `walchain/${database}`;

// ---- the chain as queries and activities show it

export interface ChainPointView { lsn: string; time: string }

export interface WindowView {
  baseBackupId: string;
  timeline: number;
  from: ChainPointView;
  to: ChainPointView;
  legs: Array<{ timeline: number; fromLsn: string; toLsn: string }>;
  text: string;
}

export interface GapView {
  timeline: number;
  fromLsn: string;
  toLsn: string;
  missing: string[];
  missingCount: number;
  notInStorage: string[];
  text: string;
}

export interface ChainView {
  database: string;
  checkedAt: string;
  systemIdentifier: string | null;
  windows: WindowView[];
  gaps: GapView[];
  unusableBaseBackups: Array<{ id: string; reason: string }>;
  /** Incremental base backups that cannot be restored because their chain lacks a member (also among the unusable). */
  brokenChains?: Array<{ id: string; reason: string }>;
  completeBaseBackups: number;
  runningBaseBackups: number;
}

export interface ChainMonitorState {
  database: string;
  last: ChainView | null;
  lastError: string | null;
  rounds: number;
  baseBackupsStarted: Array<{ workflowId: string; reason: string; at: string }>;
}

export const chainQuery = defineQuery<ChainMonitorState>('chain');

// ---- restore progress

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
}

export const pitrProgressQuery = defineQuery<PitrProgress>('progress');
export const abortPitrSignal = defineSignal<[reason?: string]>('abort');
export const pitrProgressSignal = defineSignal<[{ extractedBytes?: number; segmentsFetched?: number; replayLsn?: string }]>('reportProgress');
