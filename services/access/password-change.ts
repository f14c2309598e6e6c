/** Users change their own password: the current one is required, and other sessions end. */
import { decoyHash, hashPassword, verifyPassword } from '../../lib/access/password.ts';
import { HindsightError } from '../../lib/errors.ts';
import type { Actor } from '../authz.ts';
import { admitAttempt, forgiveAttempt, throttleKeys } from './login-throttle.ts';
import { parseOrThrow, passwordSchema } from './input.ts';
import type { AccessDeps } from './types.ts';

export interface PasswordChange {
  current: string;
  next: string;
}

/**
 * Sets the signed-in user's password after checking the current one (throttled like a sign-in, so
 * a stolen session is no password oracle), and ends the user's other sessions.
 */
export async function changeOwnPassword(
  { store, authz, policy }: AccessDeps,
  actor: Actor,
  input: PasswordChange,
  keepSession: string | null,
): Promise<void> {
  if (actor.kind !== 'user')
    throw new HindsightError(
      'bad_input',
      'only a signed-in user has a password to change (the CLI: hindsight user reset-password)',
    );
  const user = await store.findUserByEmail(actor.email);
  if (!user) throw new HindsightError('not_found', `user "${actor.email}" no longer exists`);
  const next = parseOrThrow(passwordSchema, String(input.next ?? ''), 'new password');
  const keys = throttleKeys(user.email, actor.source);
  const audit = (outcome: 'ok' | 'failed', detail?: string) =>
    authz.audit(actor, {
      workspaceId: null,
      action: 'auth.password.change',
      target: { type: 'user', name: user.email },
      outcome,
      detail,
    });
  await admitAttempt(store, policy, keys);
  if (!(await verifyPassword(String(input.current ?? ''), user.passwordHash ?? (await decoyHash())))) {
    await audit('failed', 'the current password is wrong');
    throw new HindsightError('access_denied', 'the current password is wrong');
  }
  await forgiveAttempt(store, keys);
  await store.setPasswordHash(user.id, await hashPassword(next));
  const ended = await store.deleteOtherSessions(user.id, keepSession);
  await audit('ok', `password changed; ${ended} other session(s) ended`);
}
