import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { z } from 'zod';
import { HindsightError, errorMessage } from '../lib/errors.ts';
import { agentNameSchema } from '../lib/names.ts';
import { backupIdAt } from '../temporal/contracts/common.ts';
import {
  baseBackupWorkflow, baseBackupWorkflowId, stopWalArchiverSignal, walArchiverId, walArchiverWorkflow, walChainMonitorWorkflow,
  walChainMonitorWorkflowId, walStatusQuery, type BaseBackupInput, type WalArchiverStatus,
} from '../temporal/contracts/pitr.ts';
import { deleteBaseBackupSchedule, upsertBaseBackupSchedule } from '../temporal/schedules.ts';
import { startJob } from '../temporal/start.ts';
import { formatLsn } from '../lib/wal/lsn.ts';
import { checkStreamingPrerequisites, dropSlot, slotNameFor, slotPosition, withServer } from '../lib/wal/server.ts';
import type { Runtime } from './runtime.ts';

const cron = z.string().trim().regex(/^(@(yearly|annually|monthly|weekly|daily|hourly)|(\S+\s+){4}\S+)$/, 'base backup schedule must be a cron expression with five fields, e.g. "0 2 * * *", or @daily');

export const enablePitrInput = z.object({
  slotMaxMb: z.number().int().min(1, '--slot-max-mb must be at least 1').max(16 * 1024 * 1024).optional(),
  baseSchedule: cron.nullable().optional(),
  agent: agentNameSchema('--agent must be an agent name (letters, digits, "_", "." or "-")').nullable().optional(),
  partialIntervalMs: z.number().int().min(100).max(3_600_000).optional(),
  /**
   * A full base backup every N base backups, the others incremental (PostgreSQL 17+ with
   * summarize_wal on); 1 takes a full every time. Default 7 (the catalog's): a daily schedule gets a weekly full.
   */
  baseFullEvery: z.number({ error: '--base-full-every must be a number' }).int('--base-full-every must be a whole number')
    .min(1, '--base-full-every must be at least 1 (1: every base backup is a full)').max(1000, '--base-full-every must be at most 1000').optional(),
  baseBackupUrl: z.string().regex(/^postgres(ql)?:\/\//, 'the standby URL must start with postgres://').nullable().optional(),
  /** Take a first base backup right away (default yes). */
  firstBaseBackup: z.boolean().default(true),
  /** Tests shorten the archiver's activity runs to exercise continue-as-new. */
  archiverRunForMs: z.number().int().min(1000).optional(),
}).strict();
export type EnablePitrInput = z.input<typeof enablePitrInput>;

function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HindsightError('bad_input', parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '));
  return parsed.data;
}

export interface WalStatus {
  database: string;
  enabled: boolean;
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
  archiver: WalArchiverStatus | null;
  archiverError: string | null;
  lastBaseBackup: {
    id: string; status: string; stopTime: string | null; startLsn: string | null; stopLsn: string | null;
    /** A full, or an increment over `parentId`; `kindReason` says why a full was taken. */
    kind: 'full' | 'incremental'; parentId: string | null; kindReason: string | null;
  } | null;
}

/** Turning PITR on and off, base backups, and the archive's status: what the CLI and console call. */
export function createPitrOperations(runtime: Runtime, temporal: Client) {
  const { catalog, config } = runtime;

  const ops = {
    /**
     * Checks the server (wal_level, REPLICATION), records the settings, starts `wal/<db>` and the
     * chain monitor `walchain/<db>`, and takes a first base backup. Idempotent: running workflows
     * are kept.
     */
    async enable(database: string, raw: EnablePitrInput = {}) {
      const input = parseOrThrow(enablePitrInput, raw);
      const db = await catalog.getDatabase(database);
      // A database behind an agent may not be reachable from here; its agent checks when it starts.
      const agent = input.agent !== undefined ? input.agent : (await catalog.wal.config(database)).agent;
      if (!agent) {
        const server = await withServer(database, await catalog.databaseTarget(database), (client) => checkStreamingPrerequisites(database, client));
        const before = await catalog.wal.config(database);
        // Turning PITR on again for a rebuilt server starts a new archive (under its own system
        // identifier); while PITR is on, another identifier is refused by the archiver instead.
        if (!before.enabled && before.systemIdentifier && before.systemIdentifier !== server.systemIdentifier) {
          await catalog.wal.forgetServerIdentity(database);
        }
        // WAL belongs to the whole cluster: two databases of one cluster would archive the same
        // segments under the same keys, each overwriting the other's partial uploads.
        const { rows } = await catalog.pool.query<{ name: string }>(
          'select name from databases where pitr_enabled and system_identifier = $1 and name <> $2', [server.systemIdentifier, database]);
        if (rows[0]) {
          throw new HindsightError('conflict', `database "${rows[0].name}" already archives the WAL of this PostgreSQL cluster (system ${server.systemIdentifier}); PITR covers the whole cluster, so restore from "${rows[0].name}" instead, or turn it off there first`);
        }
      }
      await catalog.wal.updateSettings(database, {
        enabled: true,
        slot: slotNameFor(database),
        ...(input.slotMaxMb !== undefined ? { slotMaxBytes: input.slotMaxMb * 1024 * 1024 } : {}),
        ...(input.baseSchedule !== undefined ? { baseBackupSchedule: input.baseSchedule } : {}),
        ...(input.agent !== undefined ? { agent: input.agent } : {}),
        ...(input.partialIntervalMs !== undefined ? { partialIntervalMs: input.partialIntervalMs } : {}),
        ...(input.baseFullEvery !== undefined ? { baseBackupFullEvery: input.baseFullEvery } : {}),
        ...(input.baseBackupUrl !== undefined ? { baseBackupUrl: input.baseBackupUrl } : {}),
      });
      const archiver = await startJob(temporal, walArchiverWorkflow, {
        workflowId: walArchiverId(database), taskQueue: config.taskQueue, database, onConflict: 'use-existing',
        input: { database, ...(input.archiverRunForMs ? { runForMs: input.archiverRunForMs } : {}) },
      });
      let chainMonitor: string | null = null;
      let chainMonitorError: string | null = null;
      try {
        const handle = await startJob(temporal, walChainMonitorWorkflow, {
          workflowId: walChainMonitorWorkflowId(database), taskQueue: config.taskQueue, input: { database }, database, onConflict: 'use-existing',
        });
        chainMonitor = handle.workflowId;
      } catch (error) {
        chainMonitorError = errorMessage(error);
      }
      const schedule = input.baseSchedule !== undefined ? input.baseSchedule : (await catalog.wal.config(database)).baseBackupSchedule;
      // SKIP overlap: a base backup still running when the next is due is not doubled.
      if (schedule) await upsertBaseBackupSchedule(temporal, { database, cron: schedule, timezone: db.timezone, taskQueue: config.taskQueue });
      else await deleteBaseBackupSchedule(temporal, database);
      const first = input.firstBaseBackup ? await ops.startBaseBackup(database, 'pitr-enabled') : null;
      return { archiverWorkflowId: archiver.workflowId, chainMonitorWorkflowId: chainMonitor, chainMonitorError, baseBackup: first };
    },

    /** Stops archiving (the archiver ships what it has first), drops the slot, removes the schedule. Archived WAL stays. */
    async disable(database: string, options: { waitMs?: number } = {}) {
      await catalog.getDatabase(database);
      await catalog.wal.updateSettings(database, { enabled: false });
      await deleteBaseBackupSchedule(temporal, database);
      const handle = temporal.workflow.getHandle(walArchiverId(database));
      let archiver: WalArchiverStatus | null = null;
      try {
        await handle.signal(stopWalArchiverSignal, 'PITR turned off');
        archiver = await Promise.race([
          handle.result() as Promise<WalArchiverStatus>,
          new Promise<null>((resolve) => setTimeout(() => resolve(null), options.waitMs ?? 60_000).unref()),
        ]);
      } catch (error) {
        if (!(error instanceof WorkflowNotFoundError)) throw error;
      }
      try {
        await temporal.workflow.getHandle(walChainMonitorWorkflowId(database)).cancel();
      } catch (error) {
        if (!(error instanceof WorkflowNotFoundError)) throw error;
      }
      const slot = (await catalog.wal.config(database)).slot ?? slotNameFor(database);
      const slotDropped = await withServer(database, await catalog.databaseTarget(database), (client) => dropSlot(client, slot));
      return { archiver, slotDropped };
    },

    async startBaseBackup(database: string, trigger: BaseBackupInput['trigger'] = 'manual') {
      await catalog.getDatabase(database);
      const now = new Date();
      const baseBackupId = backupIdAt(now, randomBytes(3).toString('hex'));
      const workflowId = baseBackupWorkflowId(database, now.toISOString());
      const handle = await startJob(temporal, baseBackupWorkflow, {
        workflowId, taskQueue: config.taskQueue, input: { database, baseBackupId, trigger }, database, onConflict: 'fail',
      });
      return { baseBackupId, workflowId, result: () => handle.result() };
    },

    /** From the catalog (what storage holds), the server (what the slot keeps) and the archiver's `status` query. */
    async walStatus(database: string): Promise<WalStatus> {
      const pitr = await catalog.wal.config(database);
      const durable = await catalog.wal.latestDurable(database, pitr.systemIdentifier ?? undefined);
      const segments = pitr.systemIdentifier ? await catalog.wal.segmentsOf(database, { systemIdentifier: pitr.systemIdentifier }) : [];
      const lastBase = (await catalog.wal.baseBackupsOf(database))[0];
      let slotRetainedBytes: number | null = null;
      let serverFlushLsn: string | null = null;
      if (pitr.slot) {
        try {
          const position = await withServer(database, await catalog.databaseTarget(database), (client) => slotPosition(client, pitr.slot!));
          slotRetainedBytes = position?.retainedBytes ?? null;
          serverFlushLsn = position?.flushedLsn != null ? formatLsn(position.flushedLsn) : null;
        } catch {
          // Behind an agent, or down: the archiver's own report below still says how it stands.
        }
      }
      let archiver: WalArchiverStatus | null = null;
      let archiverError: string | null = null;
      try {
        archiver = await temporal.workflow.getHandle(walArchiverId(database)).query(walStatusQuery);
      } catch (error) {
        archiverError = errorMessage(error);
      }
      return {
        database, enabled: pitr.enabled, slot: pitr.slot, systemIdentifier: pitr.systemIdentifier, walSegmentSize: pitr.walSegmentSize,
        durableLsn: durable ? formatLsn(durable.lsn) : null,
        durableAt: durable ? durable.receivedAt.toISOString() : null,
        durableAgeSeconds: durable ? Math.max(0, (Date.now() - durable.receivedAt.getTime()) / 1000) : null,
        timeline: durable?.timeline ?? null,
        segments: { complete: segments.filter((s) => s.complete).length, partial: segments.filter((s) => !s.complete).length },
        slotRetainedBytes, serverFlushLsn, slotMaxBytes: pitr.slotMaxBytes, archiver, archiverError,
        lastBaseBackup: lastBase ? {
          id: lastBase.id, status: lastBase.status, stopTime: lastBase.stopTime?.toISOString() ?? null,
          startLsn: lastBase.startLsn !== null ? formatLsn(lastBase.startLsn) : null, stopLsn: lastBase.stopLsn !== null ? formatLsn(lastBase.stopLsn) : null,
          kind: lastBase.kind, parentId: lastBase.parentId, kindReason: lastBase.kindReason,
        } : null,
      };
    },
  };
  return ops;
}

export type PitrOperations = ReturnType<typeof createPitrOperations>;
