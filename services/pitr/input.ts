import { z } from 'zod';
import type { WalArchiverStatus } from '../../temporal/contracts/pitr.ts';
import { agentNameSchema } from '../../lib/names.ts';
import { cronSchema } from '../input.ts';

export const enablePitrInput = z
  .object({
    slotMaxMb: z
      .number()
      .int()
      .min(1, '--slot-max-mb must be at least 1')
      .max(16 * 1024 * 1024)
      .optional(),
    baseSchedule: cronSchema.nullable().optional(),
    agent: agentNameSchema('--agent must be an agent name (letters, digits, "_", "." or "-")').nullable().optional(),
    partialIntervalMs: z.number().int().min(100).max(3_600_000).optional(),
    /**
     * A full base backup every N base backups, the others incremental (PostgreSQL 17+ with
     * summarize_wal on); 1 takes a full every time. Default 7 (the catalog's): a daily schedule gets a weekly full.
     */
    baseFullEvery: z
      .number({ error: '--base-full-every must be a number' })
      .int('--base-full-every must be a whole number')
      .min(1, '--base-full-every must be at least 1 (1: every base backup is a full)')
      .max(1000, '--base-full-every must be at most 1000')
      .optional(),
    baseBackupUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'the standby URL must start with postgres://')
      .nullable()
      .optional(),
    slotOverLimit: z.enum(['alert', 'drop'], { error: '--slot-over-limit must be alert or drop' }).optional(),
    /**
     * RPO 0: Hindsight's receiver is a synchronous standby (application_name hindsight_<db>) that
     * confirms WAL only once it is in storage; the server must name it in synchronous_standby_names.
     */
    synchronous: z.boolean({ error: '--synchronous is on or off' }).optional(),
    /** Take a first base backup right away (default yes). */
    firstBaseBackup: z.boolean().default(true),
    /** Tests shorten the archiver's activity runs to exercise continue-as-new. */
    archiverRunForMs: z.number().int().min(1000).optional(),
  })
  .strict();
export type EnablePitrInput = z.input<typeof enablePitrInput>;

/**
 * What can change while PITR is on: the slot's limit (null: no limit) and what happens over it
 * (alert, or drop the slot), synchronous confirmation, the base-backup
 * schedule (null: base backups only when started or when the chain monitor needs one), how often
 * a partial segment ships, and how often a full base backup is taken.
 */
export const pitrSettingsInput = z
  .object({
    slotMaxMb: z
      .number({ error: 'the slot limit must be a number of MB' })
      .int('the slot limit must be a whole number of MB')
      .min(1, 'the slot limit must be at least 1 MB (leave it empty for no limit)')
      .max(16 * 1024 * 1024, 'the slot limit must be at most 16777216 MB')
      .nullable()
      .optional(),
    baseSchedule: cronSchema.nullable().optional(),
    partialIntervalMs: z
      .number({ error: 'the partial shipping interval must be a number' })
      .int()
      .min(100, 'the partial shipping interval must be at least 0.1 s')
      .max(3_600_000, 'the partial shipping interval must be at most 3600 s')
      .optional(),
    baseFullEvery: enablePitrInput.shape.baseFullEvery,
    slotOverLimit: enablePitrInput.shape.slotOverLimit,
    synchronous: enablePitrInput.shape.synchronous,
  })
  .strict();
export type PitrSettingsInput = z.input<typeof pitrSettingsInput>;

/** The settings as they stand (what the audit log records before and after a change). */
export interface PitrSettingsView {
  slotMaxMb: number | null;
  baseSchedule: string | null;
  partialIntervalMs: number;
  baseFullEvery: number;
  slotOverLimit: 'alert' | 'drop';
  synchronous: boolean;
}

export interface WalStatus {
  database: string;
  enabled: boolean;
  /** The database whose archive this one shares (same cluster), or null when it archives its own. */
  sharesArchiveOf: string | null;
  slot: string | null;
  systemIdentifier: string | null;
  walSegmentSize: number | null;
  /** The newest WAL byte held in storage, and how old it is. */
  durableLsn: string | null;
  durableAt: string | null;
  durableAgeSeconds: number | null;
  timeline: number | null;
  segments: { complete: number; partial: number };
  /** Live from the server (null when it cannot be reached from here). */
  slotRetainedBytes: number | null;
  serverFlushLsn: string | null;
  slotMaxBytes: number | null;
  /** The settings the archiver and the base-backup schedule run with. */
  partialIntervalMs: number;
  baseBackupSchedule: string | null;
  baseBackupFullEvery: number;
  slotOverLimit: 'alert' | 'drop';
  synchronous: boolean;
  archiver: WalArchiverStatus | null;
  archiverError: string | null;
  lastBaseBackup: {
    id: string;
    status: string;
    stopTime: string | null;
    startLsn: string | null;
    stopLsn: string | null;
    /** A full, or an increment over `parentId`; `kindReason` says why a full was taken. */
    kind: 'full' | 'incremental';
    parentId: string | null;
    kindReason: string | null;
  } | null;
}
