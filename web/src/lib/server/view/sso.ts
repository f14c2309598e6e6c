/** Single sign-on and invitations as the console's pages use them (services/access/sso-*.ts, invitations.ts decide). */
import type { AccessService, InvitationView, ProviderInput, SignInOutcome } from '../../../../../services/access.ts';
import { mailFields } from '../../../../../services/access/invitation-mail.ts';
import type { CallbackInput } from '../../../../../services/access/sso-login.ts';
import type { ActorRef } from './types.ts';

export interface ConsoleSso {
  /** The login page's buttons. */
  choices(): Promise<Array<{ name: string; displayName: string }>>;
  start(
    name: string,
    options: { redirectUri: string; nextPath: string; invitationToken?: string | undefined },
  ): Promise<{ url: string; state: string }>;
  finish(input: CallbackInput): Promise<SignInOutcome>;
  /** The provider's end-session URL for a session opened through it, if it has one. */
  endSessionUrl(sessionToken: string, postLogoutRedirectUri: string): Promise<string | undefined>;
  /** The identity providers' origins, which a page's forms may be redirected to (signing out at the provider). */
  providerOrigins(): Promise<string[]>;
  /** The settings page's section: providers with their mapping (no secret) and "SSO only". */
  settings(actor: ActorRef): Promise<{ providers: Array<Omit<ProviderInput, 'clientSecret'>>; ssoOnly: boolean }>;
  invite(
    actor: ActorRef,
    input: { email: string; workspace: string; role: string; linkBase: string },
  ): Promise<{ link: string; expiresAt: string; emailed: boolean; notEmailed?: string }>;
  invitation(token: string): Promise<(Omit<InvitationView, 'expiresAt'> & { expiresAt: string }) | undefined>;
  acceptWithPassword(input: {
    token: string;
    password: string;
    displayName?: string;
    ip: string;
    userAgent: string | null;
  }): Promise<{ token: string; expiresAt: Date }>;
  /** HINDSIGHT_PUBLIC_URL when set: the callback and the invitation links use it. */
  publicUrl: string | undefined;
}

export function createConsoleSso(access: AccessService, publicUrl: string | undefined): ConsoleSso {
  return {
    choices: () => access.signInChoices(),
    start: (name, options) => access.startSignIn(name, options),
    finish: (input) => access.finishSignIn(input),
    endSessionUrl: (token, uri) => access.endSessionUrl(token, uri),
    providerOrigins: () => access.providerOrigins(),
    settings: (actor) => access.listProviders(actor),
    async invite(actor, input) {
      const { link, expiresAt, mail } = await access.invite(actor, input);
      return { link, expiresAt: expiresAt.toISOString(), ...mailFields(mail) };
    },
    async invitation(token) {
      const found = await access.invitation(token);
      return found ? { ...found, expiresAt: found.expiresAt.toISOString() } : undefined;
    },
    acceptWithPassword: (input) => access.acceptWithPassword(input),
    publicUrl: publicUrl?.replace(/\/+$/, ''),
  };
}
