/**
 * Signing in through an OpenID Connect provider: the redirect (PKCE, state and nonce kept in the
 * catalog, the state also in the browser's cookie), then the callback: the code redeemed, the
 * person found by the provider's subject (or, the first time, by a verified email address), their
 * roles synced from the mapping, and a session; or the "no access" answer when nothing maps.
 */
import {
  authorizationRequest,
  endSessionUrl,
  providerConfiguration,
  redeemCallback,
} from '../../lib/access/oidc/client.ts';
import { mappedRoles } from '../../lib/access/oidc/mapping.ts';
import type { IdentityProvider, PendingLogin } from '../../lib/catalog/identity-providers.ts';
import { invitationTokenHash } from '../../lib/catalog/invitations.ts';
import { HindsightError } from '../../lib/errors.ts';
import { systemActor } from '../authz.ts';
import { actorForUser } from './lookups.ts';
import type { AccessDeps } from './types.ts';

/** A sign-in has ten minutes between the redirect and the callback. */
const PENDING_MS = 10 * 60_000;

export type SignInOutcome =
  | { kind: 'session'; token: string; expiresAt: Date; nextPath: string }
  | { kind: 'no-access'; provider: string; email: string };

export interface CallbackInput {
  /** The callback URL as the provider called it (the public URL's origin, this path, its query). */
  callbackUrl: URL;
  /** The state this browser was given at the redirect (its cookie); a callback without it is refused. */
  browserState: string | undefined;
  ip: string;
  userAgent: string | null;
}

const refused = (message: string) => new HindsightError('access_denied', message);

/** An error's message and its causes' (openid-client's says "unexpected JWT claim value", its cause which claim). */
function causes(error: unknown): string {
  const parts: string[] = [];
  let current = error as { message?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; current && depth < 4; depth += 1, current = current.cause as typeof current) {
    if (typeof current.message === 'string' && !parts.includes(current.message)) parts.push(current.message);
  }
  return parts.join(': ');
}

export async function startSignIn(
  { runtime }: AccessDeps,
  name: string,
  options: { redirectUri: string; nextPath: string; invitationToken?: string | undefined },
): Promise<{ url: string; state: string }> {
  const providers = runtime.catalog.identityProviders;
  const provider = await providers.providerWithSecret(String(name));
  const request = await authorizationRequest(await providerConfiguration(provider), options.redirectUri);
  await providers.savePendingLogin(
    request.state,
    {
      providerId: provider.id,
      nonce: request.nonce,
      codeVerifier: request.codeVerifier,
      nextPath: options.nextPath,
      invitationSha256: options.invitationToken ? invitationTokenHash(options.invitationToken) : null,
    },
    PENDING_MS,
  );
  return { url: request.url, state: request.state };
}

/** The pending sign-in of this callback, after the browser's state matched the provider's. */
async function pendingOf({ runtime }: AccessDeps, input: CallbackInput): Promise<PendingLogin> {
  const error = input.callbackUrl.searchParams.get('error');
  if (error)
    throw refused(
      `the identity provider refused the sign-in: ${error}${input.callbackUrl.searchParams.has('error_description') ? ` (${input.callbackUrl.searchParams.get('error_description')})` : ''}`,
    );
  const state = input.callbackUrl.searchParams.get('state') ?? '';
  if (!state || !input.browserState || state !== input.browserState)
    throw refused(
      'the sign-in does not belong to this browser (its state does not match): start again from the login page',
    );
  const pending = await runtime.catalog.identityProviders.takePendingLogin(state);
  if (!pending) throw refused('this sign-in expired or was already used: start again from the login page');
  return pending;
}

/** The claims of a redeemed code; any refusal of the provider or of the checks names the provider. */
async function claimsOf(
  provider: IdentityProvider & { clientSecret: string },
  pending: PendingLogin,
  input: CallbackInput,
  state: string,
): Promise<{ subject: string; email: string; emailVerified: boolean; name: string; claims: Record<string, unknown> }> {
  let claims: Record<string, unknown>;
  try {
    const config = await providerConfiguration(provider);
    claims = await redeemCallback(config, input.callbackUrl, {
      state,
      nonce: pending.nonce,
      codeVerifier: pending.codeVerifier,
      wanted: ['email', provider.claim],
    });
  } catch (error) {
    if (error instanceof HindsightError) throw error;
    // openid-client's errors carry the provider's own error code (invalid_grant…) beside a generic message.
    const e = error as { message: string; error?: unknown; error_description?: unknown };
    const said =
      typeof e.error === 'string'
        ? `${e.error}${typeof e.error_description === 'string' ? ` (${e.error_description})` : ''}: `
        : '';
    // A provider words an expired or spent code as it likes (often just "grant request is invalid").
    const hint =
      e.error === 'invalid_grant'
        ? "; the provider's sign-in code expired or was already used: start again from the login page"
        : '';
    throw refused(`${provider.displayName} sign-in refused: ${said}${causes(error)}${hint}`);
  }
  const email = typeof claims.email === 'string' ? claims.email.trim().toLowerCase() : '';
  if (!email)
    throw refused(`${provider.displayName} gave no email address: allow the "email" scope for Hindsight's client`);
  const name = typeof claims.name === 'string' ? claims.name.slice(0, 200) : '';
  return { subject: String(claims.sub), email, emailVerified: claims.email_verified === true, name, claims };
}

/**
 * The account of this person: the one linked to their subject, else the account of their
 * address when the provider vouches for it (linked from then on), else a new one when the
 * mapping or an invitation gives them something; undefined when nothing would.
 */
async function accountOf(
  { store, runtime }: AccessDeps,
  provider: IdentityProvider,
  person: { subject: string; email: string; emailVerified: boolean; name: string },
  wouldGetAccess: boolean,
): Promise<number | undefined> {
  const providers = runtime.catalog.identityProviders;
  const linked = await providers.linkedUser(provider.id, person.subject);
  if (linked !== undefined) return linked;
  const existing = await store.findUserByEmail(person.email);
  if (existing) {
    if (!person.emailVerified)
      throw refused(
        `an account for ${person.email} exists, and ${provider.displayName} does not say that the address is verified: sign in with the password, or verify the address at the provider`,
      );
    await providers.linkIdentity(provider.id, person.subject, existing.id);
    return existing.id;
  }
  if (!wouldGetAccess) return undefined;
  const user = await store.createUser({ email: person.email, displayName: person.name, passwordHash: null });
  await providers.linkIdentity(provider.id, person.subject, user.id);
  return user.id;
}

/**
 * Sets the roles of every workspace the provider's mapping names to what the claim gives now — except
 * that a workspace's last owner keeps the role: a group renamed at the provider must not leave a
 * workspace nobody can manage. The kept role is audited so an owner sees why the mapping did not apply.
 */
async function syncRoles({ store, authz }: AccessDeps, provider: IdentityProvider, userId: number, claim: unknown) {
  const roles = mappedRoles(provider.mappings, claim);
  for (const workspaceName of new Set(provider.mappings.map((m) => m.workspace))) {
    const workspace = await store.findWorkspace(workspaceName);
    if (!workspace) continue;
    const role = roles.get(workspaceName);
    const current = (await store.memberships({ userId, workspaceId: workspace.id }))[0]?.role;
    if (current === 'owner' && role !== 'owner' && (await store.countOwners(workspace.id)) <= 1) {
      await authz.audit(systemActor, {
        workspaceId: workspace.id,
        action: 'membership.set',
        target: { type: 'workspace', name: workspace.name },
        outcome: 'denied',
        detail: `${provider.name} maps the last owner to ${role ?? 'no role'}; kept as owner (make someone else owner first)`,
      });
      continue;
    }
    if (role) await store.setMembership(userId, workspace.id, role);
    else await store.removeMembership(userId, workspace.id);
  }
}

/** The invitation this sign-in carries, checked against the provider's address. */
async function invitationOf({ runtime }: AccessDeps, pending: PendingLogin, email: string) {
  if (!pending.invitationSha256) return undefined;
  const invitation = await runtime.catalog.invitations.findInvitation(pending.invitationSha256);
  if (!invitation || invitation.acceptedAt || invitation.expiresAt.getTime() < Date.now())
    throw refused('this invitation link expired or was already used: ask the workspace admin for a new one');
  if (invitation.email !== email)
    throw refused(`this invitation is for ${invitation.email}, and the provider signed you in as ${email}`);
  return invitation;
}

async function finish(deps: AccessDeps, input: CallbackInput): Promise<SignInOutcome> {
  const { runtime, store, policy, authz } = deps;
  const pending = await pendingOf(deps, input);
  const provider = await runtime.catalog.identityProviders.providerById(pending.providerId);
  if (!provider) throw refused('the identity provider of this sign-in was removed: start again from the login page');
  const withSecret = await runtime.catalog.identityProviders.providerWithSecret(provider.name);
  const person = await claimsOf(withSecret, pending, input, input.browserState!);
  const invitation = await invitationOf(deps, pending, person.email);
  const mapped = mappedRoles(provider.mappings, person.claims[provider.claim]).size > 0;
  const userId = await accountOf(deps, provider, person, mapped || invitation !== undefined);
  if (userId === undefined) return { kind: 'no-access', provider: provider.displayName, email: person.email };
  const user = await store.getUserById(userId);
  if (!user || user.disabled) throw refused(`the account ${person.email} is disabled: ask an admin`);
  await syncRoles(deps, provider, userId, person.claims[provider.claim]);
  if (invitation) await runtime.catalog.invitations.acceptInvitation(pending.invitationSha256!, async () => userId);
  const actor = (await actorForUser(store, userId, input.ip))!;
  if (actor.kind === 'user' && actor.memberships.size === 0)
    return { kind: 'no-access', provider: provider.displayName, email: person.email };
  const session = await store.createSession(userId, {
    ttlMs: policy.sessionTtlMs,
    maxMs: policy.sessionMaxMs,
    ip: input.ip,
    userAgent: input.userAgent,
  });
  await runtime.catalog.identityProviders.setSessionProvider(session.token, provider.id);
  await authz.audit(actor, {
    workspaceId: null,
    action: 'auth.login',
    outcome: 'ok',
    detail: `single sign-on: ${provider.name}`,
  });
  return { kind: 'session', token: session.token, expiresAt: session.expiresAt, nextPath: pending.nextPath };
}

/** The callback: a session, "no access", or a refusal (audited) that names what went wrong. */
export async function finishSignIn(deps: AccessDeps, input: CallbackInput): Promise<SignInOutcome> {
  try {
    return await finish(deps, input);
  } catch (error) {
    await deps.store.appendAudit({
      actorUserId: null,
      actor: 'unknown user',
      workspaceId: null,
      action: 'auth.login',
      source: input.ip,
      outcome: 'failed',
      detail: `single sign-on: ${(error as Error).message}`.slice(0, 1000),
    });
    throw error;
  }
}

/**
 * Where the browser goes after a sign-out of a session opened through a provider: its end-session
 * endpoint, when it has one; undefined otherwise, and when the provider cannot be reached (the
 * Hindsight session has ended either way).
 */
export async function endSessionUrlOf(
  { runtime }: AccessDeps,
  sessionToken: string,
  postLogoutRedirectUri: string,
): Promise<string | undefined> {
  const providers = runtime.catalog.identityProviders;
  try {
    const providerId = await providers.sessionProvider(sessionToken);
    const provider = providerId === undefined ? undefined : await providers.providerById(providerId);
    if (!provider) return undefined;
    const config = await providerConfiguration(await providers.providerWithSecret(provider.name));
    return endSessionUrl(config, postLogoutRedirectUri);
  } catch {
    return undefined;
  }
}

export function ssoSignInOperations(deps: AccessDeps) {
  return {
    startSignIn: (name: string, options: Parameters<typeof startSignIn>[2]) => startSignIn(deps, name, options),
    finishSignIn: (input: CallbackInput) => finishSignIn(deps, input),
    endSessionUrl: (sessionToken: string, postLogoutRedirectUri: string) =>
      endSessionUrlOf(deps, sessionToken, postLogoutRedirectUri),
  };
}
