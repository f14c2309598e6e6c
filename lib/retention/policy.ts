import { z } from 'zod';
import { HindsightError } from '../errors.ts';
import { isTimeZone } from '../time-zone.ts';

/**
 * Retention policies as a database stores them (JSON in `databases.retention_policy`). Whatever a
 * policy says, the planner's safety rules still keep young, in-use and the newest verified backups.
 */

/** The GFS tiers, finest first: the order in which reasons are listed. */
export const gfsTiers = ['hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
export type GfsTier = (typeof gfsTiers)[number];

const positiveInt = (field: string) =>
  z
    .number({ error: `${field} is required` })
    .int(`${field} must be a whole number`)
    .min(1, `${field} must be at least 1`);

const tierCount = (tier: GfsTier) =>
  z.number().int(`${tier} must be a whole number`).min(0, `${tier} must be 0 or more`).optional();

export const timePolicy = z
  .object({
    kind: z.literal('time'),
    /** Keep backups finished within the last keepDays days. */
    keepDays: positiveInt('keepDays'),
  })
  .strict();

export const countPolicy = z
  .object({
    kind: z.literal('count'),
    /** Keep the keepLast newest backups. */
    keepLast: positiveInt('keepLast'),
  })
  .strict();

export const gfsPolicy = z
  .object({
    kind: z.literal('gfs'),
    hourly: tierCount('hourly'),
    daily: tierCount('daily'),
    weekly: tierCount('weekly'),
    monthly: tierCount('monthly'),
    yearly: tierCount('yearly'),
    /** Where days, weeks, months and years begin; a backup at 23:30 UTC is the next day in Paris. */
    timezone: z
      .string()
      .refine(isTimeZone, 'timezone must be an IANA time zone such as UTC or Europe/Paris')
      .default('UTC'),
  })
  .strict()
  .refine(
    (policy) => gfsTiers.some((tier) => (policy[tier] ?? 0) > 0),
    'a gfs policy needs at least one tier above 0 (hourly, daily, weekly, monthly or yearly)',
  );

export const retentionPolicy = z.discriminatedUnion('kind', [timePolicy, countPolicy, gfsPolicy], {
  error: 'retention policy kind must be "time", "count" or "gfs"',
});

/** A policy as written (timezone may be missing). */
export type RetentionPolicyInput = z.input<typeof retentionPolicy>;
/** A validated policy with its defaults filled in. */
export type RetentionPolicy = z.output<typeof retentionPolicy>;
export type GfsPolicy = z.output<typeof gfsPolicy>;

/** Validates a stored or submitted policy; the error names every bad field on one line. */
export function parseRetentionPolicy(value: unknown): RetentionPolicy {
  const parsed = retentionPolicy.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : 'policy';
    return `${field}: ${issue.message}`;
  });
  throw new HindsightError('bad_input', `invalid retention policy: ${problems.join('; ')}`);
}
