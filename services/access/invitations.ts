/**
 * Invitations: an admin invites an address to a workspace with a role, and the person sets their
 * own password (or signs in through single sign-on) from a one-time link that expires. Admins no
 * longer choose other people's passwords, and membership changes reach only accounts that accepted
 * an invitation to the workspace.
 */
import { hashPassword, verifyPassword } from '../../lib/access/password.ts';
import { invitationTokenHash, type Invitation } from '../../lib/catalog/invitations.ts';
import { createUser } from '../../lib/catalog/users.ts';
import { HindsightError } from '../../lib/errors.ts';
import type { Actor } from '../authz.ts';
import { emailSchema, parseOrThrow, passwordSchema, roleSchema } from './input.ts';
import { actorForUser, workspaceFor } from './lookups.ts';
import { emailInvitation, type InvitationMailResult } from './invitation-mail.ts';
import { authorizeRoleChange } from './owners.ts';
import type { AccessDeps } from './types.ts';

/** An invitation link works for seven days. */
export const INVITATION_TTL_MS = 7 * 24 * 3600_000;

export type InvitationState = 'open' | 'expired' | 'used';

export interface InvitationView {
  email: string;
  workspace: string;
  role: string;
  expiresAt: Date;
  state: InvitationState;
  /** An account of this address exists: it confirms with its own password (or its provider). */
  accountExists: boolean;
}

const stateOf = (i: Invitation): InvitationState =>
  i.acceptedAt ? 'used' : i.expiresAt.getTime() <= Date.now() ? 'expired' : 'open';

const unusable = (state: InvitationState | 'unknown', workspace?: string) =>
  new HindsightError(
    'access_denied',
    state === 'used'
      ? 'this invitation link was already used: sign in, or ask the workspace admin for a new one'
      : `this invitation link ${state === 'expired' ? 'expired' : 'is not valid'}: ask ${workspace ? `an admin of workspace "${workspace}"` : 'the workspace admin'} for a new one`,
  );

/** A created invitation: the link (a secret), and whether it went out by email or why not. */
export interface CreatedInvitation {
  email: string;
  token: string;
  link: string;
  expiresAt: Date;
  mail: InvitationMailResult;
}

async function invite(
  { store, authz, runtime }: AccessDeps,
  actor: Actor,
  input: { email: string; workspace: string; role: string; linkBase?: string | undefined },
): Promise<CreatedInvitation> {
  const email = parseOrThrow(emailSchema, input.email, 'email');
  const role = parseOrThrow(roleSchema, input.role, 'role');
  const workspace = await workspaceFor(store, actor, String(input.workspace ?? 'default'));
  await authorizeRoleChange(authz, actor, workspace, [role]);
  const invitation = await runtime.catalog.invitations.createInvitation({
    email,
    workspaceId: workspace.id,
    role,
    invitedBy: actor.kind === 'user' ? actor.userId : null,
    ttlMs: INVITATION_TTL_MS,
  });
  const link = `${(input.linkBase ?? runtime.config.publicUrl).replace(/\/+$/, '')}/login/invite/${invitation.token}`;
  const mail = await emailInvitation(runtime, {
    email,
    workspaceId: workspace.id,
    workspace: workspace.name,
    role,
    link,
    expiresAt: invitation.expiresAt,
  });
  await authz.audit(actor, {
    workspaceId: workspace.id,
    action: 'invitation.create',
    target: { type: 'user', name: email },
    outcome: 'ok',
    after: {
      email,
      workspace: workspace.name,
      role,
      expiresAt: invitation.expiresAt.toISOString(),
      ...(mail.emailed ? { emailedVia: mail.via } : { notEmailed: mail.reason }),
    },
  });
  return { email, token: invitation.token, link, expiresAt: invitation.expiresAt, mail };
}

/**
 * Accepts with a password: a new account sets its own, an existing one confirms with its current
 * one. Refused under SSO only (the provider's button accepts instead).
 */
async function acceptWithPassword(
  deps: AccessDeps,
  input: { token: string; password: string; displayName?: string; ip: string; userAgent: string | null },
): Promise<{ token: string; expiresAt: Date }> {
  const { store, runtime, authz, policy } = deps;
  const tokenSha256 = invitationTokenHash(String(input.token));
  const found = await runtime.catalog.invitations.findInvitation(tokenSha256);
  if (!found || stateOf(found) !== 'open') throw unusable(found ? stateOf(found) : 'unknown', found?.workspace);
  const existing = await store.findUserByEmail(found.email);
  if (await runtime.catalog.identityProviders.ssoOnly())
    throw new HindsightError('access_denied', 'this installation signs in through single sign-on only: use a provider');
  if (existing && !(existing.passwordHash && (await verifyPassword(String(input.password), existing.passwordHash))))
    throw new HindsightError(
      'access_denied',
      `an account for ${found.email} exists: confirm with its current password${existing.passwordHash ? '' : ', or sign in through its provider'}`,
    );
  const passwordHash = existing ? null : await hashPassword(parseOrThrow(passwordSchema, input.password, 'password'));
  const accepted = await runtime.catalog.invitations.acceptInvitation(tokenSha256, async (tx, invitation) => {
    if (existing) return existing.id;
    const user = await createUser(tx, {
      email: invitation.email,
      displayName: String(input.displayName ?? '').slice(0, 200),
      passwordHash,
    });
    return user.id;
  });
  if (!accepted) throw unusable('used', found.workspace);
  const user = (await store.findUserByEmail(found.email))!;
  if (user.disabled) throw new HindsightError('access_denied', `the account ${found.email} is disabled: ask an admin`);
  const session = await store.createSession(user.id, {
    ttlMs: policy.sessionTtlMs,
    maxMs: policy.sessionMaxMs,
    ip: input.ip,
    userAgent: input.userAgent,
  });
  const actor = (await actorForUser(store, user.id, input.ip))!;
  await authz.audit(actor, {
    workspaceId: accepted.workspaceId,
    action: 'invitation.accept',
    target: { type: 'user', name: found.email },
    outcome: 'ok',
    after: { workspace: accepted.workspace, role: accepted.role },
  });
  return session;
}

export function invitationOperations(deps: AccessDeps) {
  const { runtime, store } = deps;
  return {
    /** The link goes under `linkBase` (default HINDSIGHT_PUBLIC_URL); it is emailed when the workspace has an email notifier. */
    invite: (actor: Actor, input: Parameters<typeof invite>[2]) => invite(deps, actor, input),

    /** What the link's page shows, and whether the link can still be used. */
    async invitation(token: string): Promise<InvitationView | undefined> {
      const found = await runtime.catalog.invitations.findInvitation(invitationTokenHash(String(token)));
      if (!found) return undefined;
      return {
        email: found.email,
        workspace: found.workspace,
        role: found.role,
        expiresAt: found.expiresAt,
        state: stateOf(found),
        accountExists: (await store.findUserByEmail(found.email)) !== undefined,
      };
    },

    acceptWithPassword: (input: Parameters<typeof acceptWithPassword>[1]) => acceptWithPassword(deps, input),
  };
}
