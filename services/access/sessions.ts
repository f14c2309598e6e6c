/** Who is acting: the actor behind a user id, an email (the CLI) or a session cookie (the console). */
import { HindsightError } from '../../lib/errors.ts';
import { notFound, type Actor } from '../authz.ts';
import { createFirstOwner, issueSetupToken, needsSetup, type FirstOwnerInput } from './first-owner.ts';
import { login } from './login.ts';
import { changeOwnPassword, type PasswordChange } from './password-change.ts';
import { issuePasswordReset, passwordResetEmail, resetPassword } from './password-reset.ts';
import { actorForUser } from './lookups.ts';
import type { AccessDeps } from './types.ts';

/** Accounts and sessions: the first owner, logging in and out, the actor behind a cookie or an email. */
export function sessionOperations(deps: AccessDeps) {
  const { store, authz, policy } = deps;
  return {
    policy,
    actorForUser: (userId: number, source: string) => actorForUser(store, userId, source),

    /** For the CLI's HINDSIGHT_AS / --as: the user's roles, or an error naming the account. */
    async actorForEmail(email: string, source: string): Promise<Actor> {
      const user = await store.findUserByEmail(email);
      if (!user) throw notFound({ type: 'user', name: email });
      if (user.disabled) throw new HindsightError('forbidden', `user "${email}" is disabled`);
      return (await actorForUser(store, user.id, source))!;
    },

    needsSetup: () => needsSetup(store),
    issueSetupToken: () => issueSetupToken(store),
    createFirstOwner: (input: FirstOwnerInput, source: string) => createFirstOwner(deps, input, source),

    login: (input: { email: string; password: string; ip: string; userAgent: string | null }) => login(deps, input),

    /** The signed-in user's own password; `keepSession` (the session making the change) stays open. */
    changeOwnPassword: (actor: Actor, input: PasswordChange, keepSession: string | null) =>
      changeOwnPassword(deps, actor, input, keepSession),
    /** A one-time link that sets `email`'s password (the local operator only). */
    issuePasswordReset: (actor: Actor, email: string) => issuePasswordReset(deps, actor, email),
    passwordResetEmail: (token: string) => passwordResetEmail(deps, token),
    resetPassword: (input: { token: string; password: string }, source: string) => resetPassword(deps, input, source),

    async logout(token: string, actor?: Actor): Promise<void> {
      await store.deleteSession(token);
      if (actor) await authz.audit(actor, { workspaceId: null, action: 'auth.logout', outcome: 'ok' });
    },

    /** The actor behind a session cookie, or undefined when it is unknown, expired or its user disabled. */
    async sessionActor(token: string, ip: string): Promise<Actor | undefined> {
      if (!token || token.length > 100) return undefined;
      const session = await store.touchSession(token, policy.sessionTtlMs, policy.sessionMaxMs);
      return session ? actorForUser(store, session.userId, ip) : undefined;
    },
  };
}
