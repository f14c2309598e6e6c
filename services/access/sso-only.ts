/**
 * "SSO only": passwords are then refused, except for the break-glass accounts marked from the CLI.
 * The refusal comes before any password check, for unknown addresses too, so it tells nothing of
 * the password nor of which accounts exist (only that an address is not break-glass).
 */
import { HindsightError } from '../../lib/errors.ts';
import type { AccessDeps } from './types.ts';

export async function refuseUnderSsoOnly(
  { runtime }: AccessDeps,
  userId: number | undefined,
  audit: (outcome: 'denied', detail: string) => Promise<unknown>,
): Promise<void> {
  const providers = runtime.catalog.identityProviders;
  if (!(await providers.ssoOnly()) || (userId !== undefined && (await providers.isBreakGlass(userId)))) return;
  await audit('denied', 'password refused: the installation signs in through single sign-on only');
  throw new HindsightError(
    'access_denied',
    'this installation signs in through single sign-on only: use your identity provider on the login page',
  );
}
