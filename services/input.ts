import { z } from 'zod';
import { HindsightError } from '../lib/errors.ts';
import { cronProblem } from '../lib/schedule/cron.ts';

/** Parses at the service's edge; a refusal names every bad field, after `what` when given. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what?: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  if (what === undefined) {
    throw new HindsightError(
      'bad_input',
      parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '),
    );
  }
  const issues = parsed.error.issues
    .map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`)
    .join('; ');
  throw new HindsightError('bad_input', `${what}: ${issues}`);
}

/**
 * A five-field cron line or a shorthand such as @daily that Temporal reads the same way and that
 * fires within a few years; the refusal names the field and its range (lib/schedule/cron.ts).
 */
export const cronSchema = z
  .string()
  .trim()
  .superRefine((expression, ctx) => {
    const problem = cronProblem(expression);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe(
    "Five cron fields (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly, read as Temporal's schedules read them; it must fire within 5 years.",
  );

export const timezoneSchema = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA name such as UTC or Europe/Paris');
