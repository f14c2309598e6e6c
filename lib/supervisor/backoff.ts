/**
 * When a supervised child that died is started again. Each crash soon after a start doubles the
 * wait (a child that cannot come up should not spin); a child that ran long enough before it died
 * starts a new streak at the first delay. A streak of quick crashes that long means the child
 * cannot run (a port taken, a broken configuration): the supervisor gives up rather than loop.
 */
import { z } from 'zod';

export const restartPolicySchema = z
  .object({
    /** The wait before the first restart of a streak. */
    initialDelayMs: z.number().int().positive(),
    /** No wait grows past this. */
    maxDelayMs: z.number().int().positive(),
    factor: z.number().min(1),
    /** A run shorter than this ends in a quick crash; a longer one resets the streak. */
    quickRunMs: z.number().int().nonnegative(),
    /** This many quick crashes in a row and the child is given up. */
    maxQuickCrashes: z.number().int().positive(),
  })
  .refine((p) => p.maxDelayMs >= p.initialDelayMs, 'maxDelayMs must be at least initialDelayMs');

export type RestartPolicy = z.infer<typeof restartPolicySchema>;

export const defaultRestartPolicy: RestartPolicy = {
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  factor: 2,
  quickRunMs: 30_000,
  maxQuickCrashes: 5,
};

export type RestartDecision =
  { restart: true; delayMs: number; quickCrashes: number } | { restart: false; quickCrashes: number };

/** The crash streak of one child. */
export class RestartTracker {
  readonly policy: RestartPolicy;
  private quickCrashes = 0;

  constructor(policy: RestartPolicy = defaultRestartPolicy) {
    this.policy = restartPolicySchema.parse(policy);
  }

  /** The child died (or failed to start) after running `uptimeMs`: restart it after a delay, or give up. */
  crashed(uptimeMs: number): RestartDecision {
    const { initialDelayMs, maxDelayMs, factor, quickRunMs, maxQuickCrashes } = this.policy;
    this.quickCrashes = uptimeMs < quickRunMs ? this.quickCrashes + 1 : 1;
    if (uptimeMs < quickRunMs && this.quickCrashes >= maxQuickCrashes)
      return { restart: false, quickCrashes: this.quickCrashes };
    const delayMs = Math.min(maxDelayMs, Math.round(initialDelayMs * factor ** (this.quickCrashes - 1)));
    return { restart: true, delayMs, quickCrashes: this.quickCrashes };
  }
}
