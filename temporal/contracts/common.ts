import { z } from 'zod';

/**
 * What every workflow contract shares. Contract modules hold no workflow code and no Node APIs:
 * workflows, activities, services, the CLI and the console all import them. The workflow sandbox
 * forbids code generation, so zod runs without its JIT; this module is imported by every contract
 * before any schema is built.
 */
z.config({ jitless: true });

/** The `HindsightKind` search attribute of a run: what the Temporal UI filters by. */
export type JobKind =
  'backup' | 'restore' | 'replicate' | 'verify' | 'retention' | 'health' | 'notify' | 'watchdog' | 'catalog';

/**
 * A workflow as its callers know it: the type name it is started by and its kind. `signature` is
 * never set; it carries the input and outcome types to the start helpers (temporal/start.ts).
 */
export interface WorkflowContract<I, O> {
  readonly type: string;
  readonly kind: JobKind;
  readonly signature?: (input: I) => Promise<O>;
}

export function defineWorkflow<I, O>(type: string, kind: JobKind): WorkflowContract<I, O> {
  return { type, kind };
}

export const TASK_QUEUE_DEFAULT = 'hindsight';
/** Restores for verification run on the agents' own task queue, `<queue>-verify`, where the sandbox budget applies. */
export const VERIFY_TASK_QUEUE_SUFFIX = '-verify';
/** Host-bound activities of a database with an agent run on that agent's queue. */
export const agentTaskQueue = (agent: string): string => `agent/${agent}`;

/**
 * The signal by which a long activity (through the worker's progress sink) feeds its workflow's
 * `progress` or `status` query. Every workflow with such an activity defines it under this name.
 */
export const PROGRESS_SIGNAL = 'reportProgress';
export type ProgressSignalName = typeof PROGRESS_SIGNAL;

/** Runs a schedule starts are named `<schedule id>/scheduled` (Temporal appends the time). */
export const scheduledRunId = (scheduleId: string): string => `${scheduleId}/scheduled`;

/**
 * Backup ids sort by time and stay readable: `20261123T103000Z-3f9a1c`. The random suffix keeps two
 * backups started in the same second apart.
 */
export function backupIdAt(time: Date, random: string): string {
  const stamp = time
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return `${stamp}-${random
    .replace(/[^0-9a-f]/gi, '')
    .slice(0, 6)
    .toLowerCase()}`;
}

export const backupIdPattern = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;
export const backupIdSchema = (field: string) =>
  z.string().regex(backupIdPattern, `${field} must look like 20261123T103000Z-3f9a1c`);

/** Turns a zod error into one line that names every bad field. */
export function describeInputError(workflow: string, error: z.ZodError): string {
  const problems = error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : 'input';
    return `${field}: ${issue.message}`;
  });
  return `invalid ${workflow} input: ${problems.join('; ')}`;
}
