/**
 * The OpenID Connect relying party, through `openid-client`: discovery (the issuer in the
 * provider's metadata must be the one configured), the authorization code flow with PKCE, state
 * and nonce, the claims of the ID token (and of the userinfo endpoint for what it leaves out), and
 * the provider's end-session endpoint.
 */
import * as oidc from 'openid-client';
import { HindsightError } from '../../errors.ts';

export interface ProviderClient {
  issuer: string;
  clientId: string;
  clientSecret: string;
}

/** What the browser is sent to the provider with, and what the callback checks against. */
export interface AuthorizationRequest {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Plain http is accepted only for a provider on this machine (a local Dex, the tests); anywhere
 * else the provider must be reached over https.
 */
function transportOptions(issuer: URL): Parameters<typeof oidc.discovery>[4] {
  if (issuer.protocol === 'https:') return undefined;
  if (issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname)) return { execute: [oidc.allowInsecureRequests] };
  throw new HindsightError('bad_input', `issuer ${issuer.href} must be an https URL`);
}

const cache = new Map<string, { at: number; config: Promise<oidc.Configuration> }>();
const CACHE_MS = 5 * 60_000;

/** The provider's metadata and keys, read once every few minutes (a failed read is not kept). */
export async function providerConfiguration(provider: ProviderClient): Promise<oidc.Configuration> {
  const key = JSON.stringify([provider.issuer, provider.clientId, provider.clientSecret]);
  const cached = cache.get(key);
  if (cached && Date.now() - cached.at < CACHE_MS) return cached.config;
  const issuer = new URL(provider.issuer);
  const config = oidc
    .discovery(issuer, provider.clientId, provider.clientSecret, undefined, transportOptions(issuer))
    .catch((error: unknown) => {
      cache.delete(key);
      throw new HindsightError(
        'unreachable',
        `the identity provider at ${provider.issuer} could not be used: ${(error as Error).message} (check the issuer URL with hindsight sso list)`,
      );
    });
  cache.set(key, { at: Date.now(), config });
  return config;
}

export async function authorizationRequest(
  config: oidc.Configuration,
  redirectUri: string,
): Promise<AuthorizationRequest> {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  return { url: url.href, state, nonce, codeVerifier };
}

/**
 * Exchanges the callback's code (PKCE verifier, state and nonce checked by openid-client) and
 * returns the person's claims; a claim the ID token leaves out is read from the userinfo endpoint.
 */
export async function redeemCallback(
  config: oidc.Configuration,
  callbackUrl: URL,
  checks: { state: string; nonce: string; codeVerifier: string; wanted: string[] },
): Promise<Record<string, unknown>> {
  const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: checks.codeVerifier,
    expectedState: checks.state,
    expectedNonce: checks.nonce,
    idTokenExpected: true,
  });
  const claims: Record<string, unknown> = { ...tokens.claims()! };
  const missing = checks.wanted.some((name) => claims[name] === undefined);
  if (missing && config.serverMetadata().userinfo_endpoint) {
    const info = await oidc.fetchUserInfo(config, tokens.access_token, String(claims.sub));
    for (const [name, value] of Object.entries(info)) if (claims[name] === undefined) claims[name] = value;
  }
  return claims;
}

/** The provider's end-session URL, or undefined when it has none. */
export function endSessionUrl(config: oidc.Configuration, postLogoutRedirectUri: string): string | undefined {
  if (!config.serverMetadata().end_session_endpoint) return undefined;
  return oidc.buildEndSessionUrl(config, {
    client_id: config.clientMetadata().client_id,
    post_logout_redirect_uri: postLogoutRedirectUri,
  }).href;
}
