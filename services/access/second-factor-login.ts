/**
 * The second step of signing in, and passwordless sign-in with a passkey. A correct password of
 * an account with a second factor opens no session: it leaves a challenge (`auth_challenges`,
 * purpose `second_factor`) under a token that the console keeps in its own cookie, which nothing
 * but these functions reads. Only a TOTP code, a recovery code or a passkey turns it into a
 * session. Wrong codes are counted and locked out like wrong passwords.
 */
import { admitAttempt, failureDelayMs, forgiveAttempt, type ThrottleKeys } from './login-throttle.ts';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import {
  authenticationOptions,
  relyingParty,
  verifiedAuthentication,
  type RelyingParty,
} from '../../lib/access/passkeys.ts';
import { normalizeRecoveryCode, totpStep } from '../../lib/access/totp.ts';
import { sha256Hex, type SecondFactorStore } from '../../lib/catalog/second-factors.ts';
import { HindsightError } from '../../lib/errors.ts';
import type { Actor } from '../authz.ts';
import { actorForUser } from './lookups.ts';
import type { AccessDeps } from './types.ts';

/** How long the half-signed-in state lasts: enough to find the phone, not to be left open. */
export const SECOND_FACTOR_TTL_MS = 5 * 60_000;

export interface ClientInfo {
  ip: string;
  userAgent: string | null;
}

export interface PendingSecondFactor {
  token: string;
  expiresAt: Date;
  methods: { totp: boolean; passkey: boolean };
}

export interface OpenedSession {
  token: string;
  expiresAt: Date;
  actor: Actor;
}

const newToken = () => randomBytes(32).toString('base64url');
const expired = () =>
  new HindsightError(
    'access_denied',
    'the sign-in has expired or was already completed: log in with your password again',
  );

export function secondFactors(deps: AccessDeps): SecondFactorStore {
  return deps.runtime.catalog.secondFactors;
}

export const consoleRelyingParty = (deps: AccessDeps): RelyingParty => relyingParty(deps.runtime.config.publicUrl);

/** After a correct password: the pending state when the account has a second factor, else undefined. */
export async function pendingSecondFactor(deps: AccessDeps, userId: number): Promise<PendingSecondFactor | undefined> {
  const factors = await secondFactors(deps).factorsOf(userId);
  if (!factors.totp && factors.passkeys === 0) return undefined;
  const token = newToken();
  await secondFactors(deps).createChallenge(token, {
    purpose: 'second_factor',
    userId,
    challenge: null,
    ttlMs: SECOND_FACTOR_TTL_MS,
  });
  return {
    token,
    expiresAt: new Date(Date.now() + SECOND_FACTOR_TTL_MS),
    methods: { totp: factors.totp, passkey: factors.passkeys > 0 },
  };
}

/** What the second step offers for this pending sign-in, or undefined once it expired. */
export async function pendingMethods(
  deps: AccessDeps,
  token: string,
): Promise<{ totp: boolean; passkey: boolean } | undefined> {
  const pending = await secondFactors(deps).readChallenge(token, 'second_factor');
  if (!pending?.userId) return undefined;
  const factors = await secondFactors(deps).factorsOf(pending.userId);
  return { totp: factors.totp, passkey: factors.passkeys > 0 };
}

async function openSession(deps: AccessDeps, userId: number, client: ClientInfo, how: string): Promise<OpenedSession> {
  const actor = await actorForUser(deps.store, userId, client.ip);
  if (!actor) throw new HindsightError('access_denied', 'the account is disabled');
  const session = await deps.store.createSession(userId, {
    ttlMs: deps.policy.sessionTtlMs,
    maxMs: deps.policy.sessionMaxMs,
    ...client,
  });
  await deps.authz.audit(actor, { workspaceId: null, action: 'auth.login', outcome: 'ok', detail: how });
  return { token: session.token, expiresAt: session.expiresAt, actor };
}

/**
 * Runs one second-factor check of a pending sign-in under the password throttling rules
 * (login-throttle.ts): each attempt is counted before the check, per (account, address) and per
 * address; a failure is answered late.
 */
async function throttled(
  deps: AccessDeps,
  userId: number,
  client: ClientInfo,
  check: () => Promise<string | undefined>,
): Promise<void> {
  const { store, policy } = deps;
  const user = await store.getUserById(userId);
  const keys: ThrottleKeys = { account: `second-factor:${userId}|${client.ip}`, address: `address:${client.ip}` };
  const audit = (outcome: 'denied' | 'failed', detail: string) =>
    store.appendAudit({
      actorUserId: userId,
      actor: user?.email ?? 'unknown user',
      workspaceId: null,
      action: 'auth.second_factor',
      source: client.ip,
      outcome,
      detail,
    });
  try {
    await admitAttempt(store, policy, keys);
  } catch (error) {
    await audit('denied', (error as Error).message);
    throw error;
  }
  const refusal = await check();
  if (refusal === undefined) return forgiveAttempt(store, keys);
  await sleep(await failureDelayMs(store, policy, keys));
  await audit('failed', refusal);
  throw new HindsightError('access_denied', refusal);
}

/** Completes a pending sign-in with the one check `check`, then opens the session. */
async function complete(
  deps: AccessDeps,
  token: string,
  client: ClientInfo,
  how: string,
  check: (userId: number) => Promise<string | undefined>,
): Promise<OpenedSession> {
  const pending = await secondFactors(deps).readChallenge(token, 'second_factor');
  if (!pending?.userId) throw expired();
  const userId = pending.userId;
  await throttled(deps, userId, client, () => check(userId));
  // Taken only now: a wrong code leaves the sign-in pending for another try; two right ones race here.
  if (!(await secondFactors(deps).takeChallenge(token, 'second_factor'))) throw expired();
  return openSession(deps, userId, client, how);
}

export function completeWithTotp(deps: AccessDeps, token: string, code: string, client: ClientInfo) {
  return complete(deps, token, client, 'password and authenticator code', async (userId) => {
    const totp = await secondFactors(deps).totpOf(userId);
    if (!totp?.confirmed) return 'this account has no authenticator app: use a recovery code or a passkey';
    const step = totpStep(totp.secret, String(code ?? ''));
    if (step === undefined) return 'the authenticator code is wrong';
    if (!(await secondFactors(deps).acceptTotpStep(userId, step, false)))
      return 'this authenticator code was already used: wait for the next one';
    return undefined;
  });
}

export function completeWithRecoveryCode(deps: AccessDeps, token: string, code: string, client: ClientInfo) {
  return complete(deps, token, client, 'password and recovery code', async (userId) => {
    const hash = sha256Hex(normalizeRecoveryCode(String(code ?? '')));
    if (!(await secondFactors(deps).useRecoveryCode(userId, hash)))
      return 'the recovery code is wrong or was already used';
    return undefined;
  });
}

/** Passkey options for the second step: only the pending user's passkeys are allowed. */
export async function secondFactorPasskeyOptions(deps: AccessDeps, token: string) {
  const store = secondFactors(deps);
  const pending = await store.readChallenge(token, 'second_factor');
  if (!pending?.userId) throw expired();
  const passkeys = await store.passkeysOf(pending.userId);
  if (passkeys.length === 0) throw new HindsightError('not_found', 'this account has no passkey: use a code');
  const options = await authenticationOptions(consoleRelyingParty(deps), passkeys, 'preferred');
  await store.setChallenge(token, options.challenge);
  return options;
}

/** Checks a passkey's signature of the stored challenge; a refusal's text, or undefined when it passes. */
async function passkeyRefusal(
  deps: AccessDeps,
  response: AuthenticationResponseJSON,
  challenge: string | null,
  userId: number | null,
): Promise<string | undefined> {
  const store = secondFactors(deps);
  const passkey = await store.passkeyByCredential(String(response?.id ?? ''));
  if (!challenge) return 'no passkey challenge was asked for: start again';
  if (!passkey || (userId !== null && passkey.userId !== userId))
    return 'this passkey is not registered for the account';
  const signCount = await verifiedAuthentication(
    consoleRelyingParty(deps),
    response,
    challenge,
    passkey,
    userId === null,
  );
  await store.passkeyUsed(passkey.id, signCount);
  return undefined;
}

export async function completeWithPasskey(
  deps: AccessDeps,
  token: string,
  response: AuthenticationResponseJSON,
  client: ClientInfo,
): Promise<OpenedSession> {
  const pending = await secondFactors(deps).readChallenge(token, 'second_factor');
  return complete(deps, token, client, 'password and passkey', (userId) =>
    passkeyRefusal(deps, response, pending?.challenge ?? null, userId).catch((error: unknown) =>
      error instanceof HindsightError ? error.message : Promise.reject(error),
    ),
  );
}

/** Starts a passwordless sign-in: a challenge any of our passkeys may sign, with user verification. */
export async function passkeySignInOptions(deps: AccessDeps) {
  const options = await authenticationOptions(consoleRelyingParty(deps), undefined, 'required');
  const token = newToken();
  await secondFactors(deps).createChallenge(token, {
    purpose: 'passkey_sign_in',
    userId: null,
    challenge: options.challenge,
    ttlMs: SECOND_FACTOR_TTL_MS,
  });
  return { token, options };
}

/** Passwordless sign-in: the passkey names its user; the challenge serves once. */
export async function completePasskeySignIn(
  deps: AccessDeps,
  token: string,
  response: AuthenticationResponseJSON,
  client: ClientInfo,
): Promise<OpenedSession> {
  const store = secondFactors(deps);
  const pending = await store.takeChallenge(token, 'passkey_sign_in');
  if (!pending) throw expired();
  const passkey = await store.passkeyByCredential(String(response?.id ?? ''));
  if (!passkey) {
    // An unknown passkey names no account: it counts against the address alone.
    await admitAttempt(deps.store, deps.policy, {
      account: `passkey:unknown|${client.ip}`,
      address: `address:${client.ip}`,
    });
    throw new HindsightError('access_denied', 'this passkey is not registered here: log in with your password');
  }
  await throttled(deps, passkey.userId, client, () =>
    passkeyRefusal(deps, response, pending.challenge, null).catch((error: unknown) =>
      error instanceof HindsightError ? error.message : Promise.reject(error),
    ),
  );
  return openSession(deps, passkey.userId, client, 'passkey');
}
