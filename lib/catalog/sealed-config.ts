import type { z } from 'zod';
import type { Keyring } from '../crypto/keyring.ts';
import { seal, unseal } from '../crypto/sealed.ts';
import { HindsightError } from '../errors.ts';
import type { SplitConfig } from '../secret-fields.ts';

/**
 * A configuration with secret fields (a storage's, a notifier's) is saved as its plain settings
 * and one sealed column holding its secrets, bound to `context` (sealedContexts).
 */
export function sealSecrets(keys: Keyring, secrets: SplitConfig['secrets'], context: string): string | null {
  return Object.keys(secrets).length > 0 ? seal(keys.current(), JSON.stringify(secrets), context) : null;
}

/**
 * A saved configuration opened again: its secrets unsealed and joined to its settings, and the
 * whole validated once more. `what` names it in the error, `fix` says how to repair it.
 */
export function openSealedConfig<T>(
  keys: Keyring,
  saved: { settings: Record<string, unknown>; sealed: string | null; context: string },
  schema: z.ZodType<T>,
  problem: { what: string; fix: string },
): T {
  const secrets = saved.sealed
    ? (JSON.parse(unseal(keys.resolve, saved.sealed, saved.context)) as Record<string, unknown>)
    : {};
  const parsed = schema.safeParse({ ...saved.settings, ...secrets });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new HindsightError('bad_input', `${problem.what} has an invalid configuration: ${issues} (${problem.fix})`);
  }
  return parsed.data;
}
