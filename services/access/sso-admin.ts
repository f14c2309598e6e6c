/**
 * Single sign-on as the installation's owners configure it: OpenID Connect providers with their
 * claim mapping, the "SSO only" switch, and the break-glass accounts that keep their password.
 * Providers decide who gets into every workspace, so only the instance owner and the CLI's local
 * operator change them; listing them (never the secret) is for owners.
 */
import { z } from 'zod';
import { providerConfiguration } from '../../lib/access/oidc/client.ts';
import type { IdentityProvider, NewIdentityProvider } from '../../lib/catalog/identity-providers.ts';
import { HindsightError } from '../../lib/errors.ts';
import { NAME_RULE, nameSchema } from '../../lib/names.ts';
import { isInstanceLevel, type Actor } from '../authz.ts';
import { emailSchema, parseOrThrow, roleSchema, workspaceNameSchema } from './input.ts';
import type { AccessDeps } from './types.ts';

export const providerInputSchema = z.object({
  name: nameSchema(`provider name must be ${NAME_RULE}`),
  displayName: z.string().trim().min(1, 'display name is required').max(100),
  issuer: z.url({
    protocol: /^https?$/,
    message: 'issuer must be an http(s) URL such as https://id.example.com/realms/ops',
  }),
  clientId: z.string().trim().min(1, 'client id is required').max(500),
  clientSecret: z.string().min(1, 'client secret is required').max(4000),
  claim: z
    .string()
    .regex(/^[A-Za-z0-9_.:/-]{1,200}$/, 'claim must be a claim name such as groups or roles')
    .default('groups'),
  mappings: z
    .array(z.object({ value: z.string().min(1).max(500), workspace: workspaceNameSchema, role: roleSchema }))
    .max(500)
    .default([]),
});
export type ProviderInput = z.input<typeof providerInputSchema>;

/** Refuses (and audits) a change for anyone but the instance owner or the operator. */
async function needInstance({ authz }: AccessDeps, actor: Actor, action: string, name: string): Promise<void> {
  if (isInstanceLevel(actor)) return;
  await authz.audit(actor, {
    workspaceId: null,
    action,
    target: { type: 'identity provider', name },
    outcome: 'denied',
    detail: 'only the instance owner may configure single sign-on',
  });
  throw new HindsightError(
    'forbidden',
    "single sign-on decides who enters every workspace: only the instance owner (or the CLI's local operator) may configure it",
  );
}

const shown = (p: IdentityProvider) => ({
  name: p.name,
  displayName: p.displayName,
  issuer: p.issuer,
  clientId: p.clientId,
  claim: p.claim,
  mappings: p.mappings,
});

async function addProvider(deps: AccessDeps, actor: Actor, raw: ProviderInput, check: boolean) {
  const input: NewIdentityProvider = parseOrThrow(providerInputSchema, raw, 'identity provider');
  await needInstance(deps, actor, 'sso.add', input.name);
  for (const m of input.mappings) {
    if (!(await deps.store.findWorkspace(m.workspace)))
      throw new HindsightError(
        'bad_input',
        `mapping ${m.value}=${m.workspace}:${m.role}: workspace "${m.workspace}" does not exist (hindsight workspace list)`,
      );
  }
  // The provider is asked for its metadata now, so that a wrong issuer fails here rather than at the first sign-in.
  if (check) await providerConfiguration(input);
  const provider = await deps.runtime.catalog.identityProviders.addProvider(input);
  await deps.authz.audit(actor, {
    workspaceId: null,
    action: 'sso.add',
    target: { type: 'identity provider', name: provider.name },
    outcome: 'ok',
    before: null,
    after: shown(provider),
  });
  return shown(provider);
}

export function ssoAdminOperations(deps: AccessDeps) {
  const { authz, runtime } = deps;
  const providers = runtime.catalog.identityProviders;
  return {
    addProvider: (actor: Actor, input: ProviderInput, options: { check?: boolean } = {}) =>
      addProvider(deps, actor, input, options.check !== false),

    async removeProvider(actor: Actor, name: string): Promise<void> {
      await needInstance(deps, actor, 'sso.remove', name);
      const removed = await providers.removeProvider(String(name));
      await authz.audit(actor, {
        workspaceId: null,
        action: 'sso.remove',
        target: { type: 'identity provider', name: removed.name },
        outcome: 'ok',
        before: shown(removed),
        after: null,
      });
    },

    /** The providers with their mapping (no secret), for the instance owner and workspace owners. */
    async listProviders(actor: Actor) {
      const owner = actor.kind !== 'user' || actor.instanceOwner || [...actor.memberships.values()].includes('owner');
      if (!owner) throw new HindsightError('forbidden', 'only owners see the single sign-on configuration');
      return {
        providers: (await providers.listProviders()).map(shown),
        ssoOnly: await providers.ssoOnly(),
      };
    },

    /** The login page's buttons: names and display names only. */
    async signInChoices(): Promise<Array<{ name: string; displayName: string }>> {
      return (await providers.listProviders()).map((p) => ({ name: p.name, displayName: p.displayName }));
    },

    /**
     * The origins of the providers' issuers: signing out posts to the console, which redirects to the
     * provider's end-session endpoint, so the pages' `form-action` must allow them.
     */
    async providerOrigins(): Promise<string[]> {
      return [...new Set((await providers.listProviders()).map((p) => new URL(p.issuer).origin))];
    },

    /** SSO only: refused while no enabled break-glass account with a password could still get in. */
    async setSsoOnly(actor: Actor, on: boolean): Promise<void> {
      await needInstance(deps, actor, 'sso.only', 'installation');
      if (on && (await providers.breakGlassAccounts()) === 0)
        throw new HindsightError(
          'conflict',
          'no break-glass account would be left to sign in with a password: mark one first (hindsight user break-glass <email>)',
        );
      const before = await providers.ssoOnly();
      await providers.setSsoOnly(on);
      await authz.audit(actor, {
        workspaceId: null,
        action: 'sso.only',
        outcome: 'ok',
        before: { ssoOnly: before },
        after: { ssoOnly: on },
      });
    },

    /** A break-glass account keeps signing in with its password under SSO only: for the CLI's operator alone. */
    async setBreakGlass(actor: Actor, rawEmail: string, on: boolean): Promise<void> {
      const email = parseOrThrow(emailSchema, rawEmail, 'email');
      if (actor.kind !== 'operator')
        throw new HindsightError(
          'forbidden',
          'break-glass accounts are marked from the CLI on the server only (hindsight user break-glass, without --as)',
        );
      const user = await deps.store.findUserByEmail(email);
      if (!user)
        throw new HindsightError('not_found', `user "${email}" does not exist (hindsight user list shows them)`);
      if (on && !user.passwordHash)
        throw new HindsightError('conflict', `user "${email}" has no password: a break-glass account needs one`);
      await providers.setBreakGlass(user.id, on);
      await authz.audit(actor, {
        workspaceId: null,
        action: 'user.breakGlass',
        target: { type: 'user', name: email },
        outcome: 'ok',
        after: { breakGlass: on },
      });
    },
  };
}
