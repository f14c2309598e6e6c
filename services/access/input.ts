/** The account fields as the access service accepts them; a bad value fails with the field's name. */
import { z } from 'zod';
import { ROLES } from '../../lib/catalog/access.ts';
import { passwordPolicy } from '../../lib/access/password.ts';
import { HindsightError } from '../../lib/errors.ts';
import { NAME_RULE, nameSchema } from '../../lib/names.ts';

export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email('email must be an address such as ops@example.com'));
export const passwordSchema = z
  .string()
  .min(passwordPolicy.minLength, `password must be at least ${passwordPolicy.minLength} characters`)
  .max(passwordPolicy.maxLength, `password must be at most ${passwordPolicy.maxLength} characters`);
export const workspaceNameSchema = nameSchema(`workspace name must be ${NAME_RULE}`);
export const roleSchema = z.enum(ROLES, { message: `role must be one of ${ROLES.join(', ')}` });
export const displayNameSchema = z.string().trim().max(200).default('');

export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, field: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new HindsightError('bad_input', `${field}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data;
}
