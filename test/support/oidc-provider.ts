/**
 * A real OpenID Connect provider in the test's process (the `oidc-provider` package, the
 * certified implementation behind many identity products), with its own signing key, PKCE
 * required, and people whose groups a test can change between two sign-ins.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Page } from 'playwright-core';
import Provider from 'oidc-provider';

export interface Person {
  email: string;
  name: string;
  groups: string[];
  emailVerified?: boolean;
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The people, by login name: a test may change their groups before the next sign-in. */
  people: Map<string, Person>;
  /** The next authorization code issued expires at once, as if its lifetime had run out before it was redeemed. */
  expireNextCode(): void;
  close(): Promise<void>;
}

/** `redirectUri` and `postLogoutUri` are the console's: the provider accepts no other. */
export async function startTestProvider(options: {
  port: number;
  redirectUri: string;
  postLogoutUri: string;
  people: Record<string, Person>;
}): Promise<TestProvider> {
  const issuer = `http://127.0.0.1:${options.port}`;
  const clientId = 'hindsight-console';
  const clientSecret = randomBytes(24).toString('base64url');
  const people = new Map(Object.entries(options.people));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [options.redirectUri],
        post_logout_redirect_uris: [options.postLogoutUri],
        response_types: ['code'],
        grant_types: ['authorization_code'],
      },
    ],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    // Set, not left to the defaults, which print a notice each.
    ttl: { AuthorizationCode: 60, IdToken: 600, AccessToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    // The groups travel with the profile scope, as Authentik and Keycloak (with a mapper) send them.
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    // Every claim in the ID token, as most providers put them there for a confidential client.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    findAccount: (_ctx, id) => {
      const person = people.get(id);
      if (!person) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          email: person.email,
          email_verified: person.emailVerified ?? true,
          name: person.name,
          groups: person.groups,
        }),
      };
    },
  });
  // The memory adapter hands out the stored payload itself: moving its expiry into the past
  // expires the code. Done when it is saved, before the browser can carry it to the console.
  let expireNext = false;
  provider.on('authorization_code.saved', (code: { jti: string }) => {
    if (!expireNext) return;
    expireNext = false;
    const model = provider.AuthorizationCode as unknown as {
      adapter: { find(id: string): Promise<{ exp: number } | undefined> };
    };
    void model.adapter.find(code.jti).then((stored) => {
      if (stored) stored.exp = Math.floor(Date.now() / 1000) - 3600;
    });
  });
  const server: Server = createServer(provider.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  return {
    issuer,
    clientId,
    clientSecret,
    people,
    expireNextCode() {
      expireNext = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Signs in at the provider's own pages (login, then consent the first time) as `login`. */
export async function signInAtProvider(page: Page, issuer: string, login: string): Promise<void> {
  await page.waitForURL((url) => url.href.startsWith(issuer));
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'any password: the test provider checks none');
  await page.click('button[type="submit"]');
  // Consent is asked once per person and client; otherwise the provider sends the browser back at once.
  const consent = page.locator('button:has-text("Continue")');
  const left = page.waitForURL((url) => !url.href.startsWith(issuer)).then(() => 'left' as const);
  const asked = consent.waitFor().then(() => 'asked' as const);
  const first = await Promise.race([left, asked]);
  // The other wait still runs: its eventual timeout must not become an unhandled rejection.
  void left.catch(() => undefined);
  void asked.catch(() => undefined);
  if (first === 'asked') await consent.click();
}
