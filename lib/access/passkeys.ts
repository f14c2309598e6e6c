/**
 * Passkeys (WebAuthn) through @simplewebauthn/server. The relying party is the console's public
 * URL (HINDSIGHT_PUBLIC_URL): its host is the RP ID a passkey is bound to and its origin the only
 * one a signature is accepted from, so a passkey made for this console cannot sign in elsewhere.
 */
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { HindsightError } from '../errors.ts';

export interface RelyingParty {
  id: string;
  origin: string;
  name: string;
}

export interface StoredPasskey {
  credentialId: string;
  publicKey: Uint8Array;
  signCount: number;
  transports: string[];
}

export function relyingParty(publicUrl: string): RelyingParty {
  const url = new URL(publicUrl);
  return { id: url.hostname, origin: url.origin, name: 'Hindsight' };
}

/**
 * EdDSA, ES256 and RS256 (COSE ids), named so the library does not probe Node's Web Crypto for
 * post-quantum ML-DSA: that probe uses an experimental API and prints a warning on every start.
 */
const ALGORITHMS = [-8, -7, -257];

const transportsOf = (transports: string[]) => transports as AuthenticatorTransport[];

export function registrationOptions(
  rp: RelyingParty,
  user: { id: number; email: string; displayName: string },
  existing: StoredPasskey[],
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: user.email,
    userDisplayName: user.displayName || user.email,
    userID: new TextEncoder().encode(`hindsight-user-${user.id}`),
    attestationType: 'none',
    supportedAlgorithmIDs: ALGORITHMS,
    excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: transportsOf(p.transports) })),
    // A discoverable credential signs in without an email typed first.
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
  });
}

/** Checks the browser's answer to the registration challenge; the new passkey, or a refusal naming why. */
export async function verifiedRegistration(
  rp: RelyingParty,
  response: RegistrationResponseJSON,
  challenge: string,
): Promise<StoredPasskey> {
  const result = await verifyRegistrationResponse({
    response,
    expectedChallenge: challenge,
    expectedOrigin: rp.origin,
    expectedRPID: rp.id,
    requireUserVerification: false,
    supportedAlgorithmIDs: ALGORITHMS,
  }).catch((error: unknown) => {
    throw new HindsightError('access_denied', `the passkey was not registered: ${(error as Error).message}`);
  });
  if (!result.verified || !result.registrationInfo)
    throw new HindsightError(
      'access_denied',
      'the passkey was not registered: the authenticator’s answer did not verify',
    );
  const { credential } = result.registrationInfo;
  return {
    credentialId: credential.id,
    publicKey: credential.publicKey,
    signCount: credential.counter,
    transports: credential.transports ?? response.response.transports ?? [],
  };
}

/** Options for signing in: limited to `allowed` passkeys (a second factor), or any of ours (passwordless). */
export function authenticationOptions(
  rp: RelyingParty,
  allowed: StoredPasskey[] | undefined,
  userVerification: 'required' | 'preferred',
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: rp.id,
    userVerification,
    ...(allowed
      ? { allowCredentials: allowed.map((p) => ({ id: p.credentialId, transports: transportsOf(p.transports) })) }
      : {}),
  });
}

/**
 * Checks a signature of the challenge by a stored passkey; returns the authenticator's new
 * signature count. Passwordless sign-in requires user verification (a PIN or biometric on the
 * device), since the passkey is then the only factor.
 */
export async function verifiedAuthentication(
  rp: RelyingParty,
  response: AuthenticationResponseJSON,
  challenge: string,
  passkey: StoredPasskey,
  requireUserVerification: boolean,
): Promise<number> {
  const result = await verifyAuthenticationResponse({
    response,
    expectedChallenge: challenge,
    expectedOrigin: rp.origin,
    expectedRPID: rp.id,
    credential: {
      id: passkey.credentialId,
      publicKey: new Uint8Array(passkey.publicKey),
      counter: passkey.signCount,
      transports: transportsOf(passkey.transports),
    },
    requireUserVerification,
  }).catch((error: unknown) => {
    throw new HindsightError('access_denied', `the passkey did not sign in: ${(error as Error).message}`);
  });
  if (!result.verified)
    throw new HindsightError('access_denied', 'the passkey did not sign in: its signature did not verify');
  return result.authenticationInfo.newCounter;
}
