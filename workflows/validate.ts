import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { describeInputError } from '../temporal/contracts/common.ts';

/** A bad input fails the workflow at once, with every bad field named; it is never retried. */
export function parseInput<S extends z.ZodType>(workflow: string, schema: S, raw: unknown): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw ApplicationFailure.nonRetryable(describeInputError(workflow, parsed.error), 'bad_input');
  return parsed.data;
}

/** The message a person should read: the root cause of an activity failure, not its wrapper. */
export function rootMessage(error: unknown): string {
  let current = error as { message?: string; cause?: unknown } | undefined;
  while (current?.cause) current = current.cause as typeof current;
  return current?.message ?? String(error);
}
