/**
 * Password reset links: the local operator (the CLI on the server) issues a one-time link that
 * expires; whoever opens it sets the account's password once, which ends the account's sessions.
 */
import { hashPassword } from '../../lib/access/password.ts';
import { HindsightError } from '../../lib/errors.ts';
import { notFound, type Actor } from '../authz.ts';
import { parseOrThrow, passwordSchema } from './input.ts';
import type { AccessDeps } from './types.ts';

/** How long a reset link stays usable. */
export const PASSWORD_RESET_TTL_MS = 24 * 3600_000;

export async function issuePasswordReset(
  { store, authz, runtime }: AccessDeps,
  actor: Actor,
  email: string,
): Promise<{ url: string; expiresAt: Date }> {
  if (actor.kind !== 'operator')
    throw new HindsightError(
      'forbidden',
      'only the local operator issues password reset links: run hindsight user reset-password on the server without HINDSIGHT_AS',
    );
  const user = await store.findUserByEmail(email);
  if (!user) throw notFound({ type: 'user', name: email });
  const { token, expiresAt } = await store.issuePasswordReset(user.id, PASSWORD_RESET_TTL_MS);
  await authz.audit(actor, {
    workspaceId: null,
    action: 'auth.password.resetIssued',
    target: { type: 'user', name: user.email },
    outcome: 'ok',
    detail: `link valid until ${expiresAt.toISOString()}`,
  });
  return { url: `${runtime.config.publicUrl}/reset-password?token=${token}`, expiresAt };
}

/** The email a live link resets, for the page to show; undefined for a wrong, used or expired link. */
export async function passwordResetEmail({ store }: AccessDeps, token: string): Promise<string | undefined> {
  const userId = token ? await store.passwordResetUser(token) : undefined;
  return userId === undefined ? undefined : (await store.getUserById(userId))?.email;
}

/** Uses a link: sets the password and ends every session of the account. */
export async function resetPassword(
  { store }: AccessDeps,
  input: { token: string; password: string },
  source: string,
): Promise<void> {
  const password = parseOrThrow(passwordSchema, String(input.password ?? ''), 'password');
  const audit = (actorUserId: number | null, email: string, outcome: 'ok' | 'denied', detail: string) =>
    store.appendAudit({
      actorUserId,
      actor: email,
      workspaceId: null,
      action: 'auth.password.reset',
      source,
      outcome,
      detail,
    });
  try {
    const userId = await store.usePasswordReset(String(input.token ?? ''), await hashPassword(password));
    const user = await store.getUserById(userId);
    await audit(userId, user?.email ?? 'unknown user', 'ok', 'password set with a reset link; sessions ended');
  } catch (err) {
    if ((err as { kind?: string }).kind === 'forbidden')
      await audit(null, 'unknown user', 'denied', (err as Error).message);
    throw err;
  }
}
