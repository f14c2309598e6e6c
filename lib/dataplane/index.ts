/**
 * Where a worker runs its logical backups' data path, by HINDSIGHT_DATA_PLANE: `thread` (default),
 * one long-lived data-plane thread per worker process (plane.ts), or `inline`, on the worker's own
 * thread and heap as before the plane. docs/performance.md ("Data plane") has the measurements.
 */
import { z } from 'zod';
import { HindsightError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { DataPlane } from './plane.ts';
import { inlineDumpRunner, type DumpRunner } from './run-job.ts';

export type DataPlaneMode = DumpRunner['mode'];

const modeSchema = z.enum(['thread', 'inline']);

export function dataPlaneMode(env: NodeJS.ProcessEnv = process.env): DataPlaneMode {
  const raw = env.HINDSIGHT_DATA_PLANE || undefined;
  const parsed = modeSchema.optional().safeParse(raw);
  if (!parsed.success)
    throw new HindsightError('bad_input', `HINDSIGHT_DATA_PLANE must be thread or inline, not "${String(raw)}"`);
  return parsed.data ?? 'thread';
}

/** The worker's runner, made once at start; a `thread` plane starts its thread when warmed or on the first backup. */
export function createDumpRunner(mode: DataPlaneMode, logger?: Logger): DumpRunner {
  return mode === 'thread' ? new DataPlane(logger ? { logger } : {}) : inlineDumpRunner();
}

export { DataPlane } from './plane.ts';
export { inlineDumpRunner, runDumpJob, type DumpRunner } from './run-job.ts';
export type { DumpJob } from './protocol.ts';
