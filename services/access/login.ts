/** Logging in: password checks with per-account and per-address rate limiting, then a session. */
import { setTimeout as sleep } from 'node:timers/promises';
import { decoyHash, verifyPassword } from '../../lib/access/password.ts';
import { HindsightError } from '../../lib/errors.ts';
import type { Actor } from '../authz.ts';
import { actorForUser } from './lookups.ts';
import { pendingSecondFactor, type PendingSecondFactor } from './second-factor-login.ts';
import { refuseUnderSsoOnly } from './sso-only.ts';
import type { AccessDeps } from './types.ts';

/**
 * Checks a password and opens a session; for an account with a second factor, it opens none and
 * returns the pending second step instead. Failures are counted per account and per client
 * address in the catalog (so a restart forgets nothing), answered after a growing delay, and
 * lock the key for `lockMs` at the limit.
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
  const keys = [`email:${email}`, `ip:${input.ip}`];
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
  const locked = await store.lockedUntil(keys);
  if (locked) {
    await auditAttempt('denied', `locked until ${locked.toISOString()}`);
    throw new HindsightError(
      'rate_limited',
      `too many failed logins: try again after ${locked.toISOString().slice(11, 16)} UTC`,
    );
  }
  const ok =
    (await verifyPassword(password, user?.passwordHash ?? (await decoyHash()))) && user !== undefined && !user.disabled;
  if (!ok) {
    const failures = await store.recordLoginFailure(keys[0]!, policy.accountLimit, policy.lockMs);
    await store.recordLoginFailure(keys[1]!, policy.ipLimit, policy.lockMs);
    await sleep(Math.min(policy.baseDelayMs * 2 ** Math.max(0, failures - 1), policy.maxDelayMs));
    await auditAttempt('failed', `wrong email or password (${failures} failure(s) in a row)`);
    throw new HindsightError('access_denied', 'email or password is wrong');
  }
  await store.clearLoginFailures(keys[0]!);
  await refuseUnderSsoOnly(deps, user.id, auditAttempt);
  const secondFactor = await pendingSecondFactor(deps, user.id);
  if (secondFactor) return { secondFactor };
  const session = await store.createSession(user.id, {
    ttlMs: policy.sessionTtlMs,
    ip: input.ip,
    userAgent: input.userAgent,
  });
  const actor = (await actorForUser(store, user.id, input.ip))!;
  await authz.audit(actor, { workspaceId: null, action: 'auth.login', outcome: 'ok' });
  return { token: session.token, expiresAt: session.expiresAt, actor };
}
