/** Logging in: throttled password checks (services/access/login-throttle.ts), then a session. */
import { setTimeout as sleep } from 'node:timers/promises';
import { decoyHash, hashPassword, needsRehash, verifyPassword } from '../../lib/access/password.ts';
import { HindsightError } from '../../lib/errors.ts';
import type { Actor } from '../authz.ts';
import { admitAttempt, failureDelayMs, forgiveAttempt, throttleKeys } from './login-throttle.ts';
import { actorForUser } from './lookups.ts';
import { pendingSecondFactor, type PendingSecondFactor } from './second-factor-login.ts';
import { refuseUnderSsoOnly } from './sso-only.ts';
import type { AccessDeps } from './types.ts';

/**
 * Checks a password and opens a session; for an account with a second factor, it opens none and
 * returns the pending second step instead. Each attempt is counted in the catalog before the check
 * (so a restart forgets nothing and concurrent attempts cannot slip past the limit), and a failure
 * is answered after a growing delay.
 */
export async function login(
  deps: AccessDeps,
  input: { email: string; password: string; ip: string; userAgent: string | null },
): Promise<{ token: string; expiresAt: Date; actor: Actor } | { secondFactor: PendingSecondFactor }> {
  const { store, authz, policy } = deps;
  const email = String(input.email ?? '')
    .trim()
    .toLowerCase();
  const password = String(input.password ?? '');
  const keys = throttleKeys(email, input.ip);
  const user = email ? await store.findUserByEmail(email) : undefined;
  // Only a known address is written down: people type passwords into the email field.
  const auditAttempt = (outcome: 'denied' | 'failed', detail: string) =>
    store.appendAudit({
      actorUserId: user?.id ?? null,
      actor: user?.email ?? 'unknown user',
      workspaceId: null,
      action: 'auth.login',
      source: input.ip,
      outcome,
      detail,
    });
  try {
    await admitAttempt(store, policy, keys);
  } catch (err) {
    await auditAttempt('denied', (err as Error).message);
    throw err;
  }
  // Before the password is checked: the refusal then says nothing of whether it was right.
  await refuseUnderSsoOnly(deps, user?.id, auditAttempt);
  const ok =
    (await verifyPassword(password, user?.passwordHash ?? (await decoyHash()))) && user !== undefined && !user.disabled;
  if (!ok) {
    await sleep(await failureDelayMs(store, policy, keys));
    await auditAttempt('failed', 'wrong email or password');
    throw new HindsightError('access_denied', 'email or password is wrong');
  }
  await forgiveAttempt(store, keys);
  // Hashes made with weaker parameters are upgraded while the plain password is at hand.
  if (user.passwordHash && needsRehash(user.passwordHash))
    await store.setPasswordHash(user.id, await hashPassword(password), user.passwordHash);
  const secondFactor = await pendingSecondFactor(deps, user.id);
  if (secondFactor) return { secondFactor };
  const session = await store.createSession(user.id, {
    ttlMs: policy.sessionTtlMs,
    maxMs: policy.sessionMaxMs,
    ip: input.ip,
    userAgent: input.userAgent,
  });
  const actor = (await actorForUser(store, user.id, input.ip))!;
  await authz.audit(actor, { workspaceId: null, action: 'auth.login', outcome: 'ok' });
  return { token: session.token, expiresAt: session.expiresAt, actor };
}
