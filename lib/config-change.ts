/**
 * A partial change to a stored configuration (a storage's or a notifier's): the fields given replace
 * the stored ones, a field set to null is dropped, and every field not named — secrets included —
 * is kept, so that an operator can move an endpoint without typing its key again.
 */
import { z } from 'zod';
import { HindsightError } from './errors.ts';

export const configChangeSchema = z.record(z.string(), z.unknown(), {
  error: 'the change must be a JSON object of the fields to change',
});
export type ConfigChange = z.infer<typeof configChangeSchema>;

/** The stored configuration with the change merged over it; the type stays what it was. */
export function mergeConfigChange(
  kind: 'storage' | 'notifier',
  name: string,
  stored: { type: string } & Record<string, unknown>,
  change: ConfigChange,
): Record<string, unknown> {
  if (change.type !== undefined && change.type !== stored.type) {
    throw new HindsightError(
      'bad_input',
      `${kind} "${name}" is of type ${stored.type} and its type cannot change to ${String(change.type)}: add a new ${kind} of that type (hindsight ${kind} add) and use it instead`,
    );
  }
  const merged: Record<string, unknown> = { ...stored };
  for (const [field, value] of Object.entries(change)) {
    if (value === null) delete merged[field];
    else merged[field] = value;
  }
  return merged;
}
