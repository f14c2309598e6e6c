import { z } from 'zod';
import { HindsightError } from '../lib/errors.ts';

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

const CRON = /^(@(yearly|annually|monthly|weekly|daily|hourly)|(\S+\s+){4}\S+)$/;

/** Five cron fields (minute hour day month weekday) or a shorthand such as @daily. */
export const cronSchema = z
  .string()
  .trim()
  .regex(CRON, 'schedule must be a cron expression with five fields, e.g. "0 3 * * *", or @daily');

/** The same rule, worded for the base-backup schedule. */
export const baseCronSchema = z
  .string()
  .trim()
  .regex(CRON, 'base backup schedule must be a cron expression with five fields, e.g. "0 2 * * *", or @daily');

export const timezoneSchema = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'timezone must be an IANA name such as UTC or Europe/Paris');
