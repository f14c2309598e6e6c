/**
 * A signed-in user's own second factors: enrolling an authenticator app (confirmed by a first
 * code, then ten recovery codes shown once), registering and removing passkeys; an owner's
 * requirement of a second factor in a workspace; and the local operator's reset of a user's factors.
 */
import { randomBytes } from 'node:crypto';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { registrationOptions, verifiedRegistration } from '../../lib/access/passkeys.ts';
import {
  newRecoveryCodes,
  newTotpSecret,
  normalizeRecoveryCode,
  totpQrSvg,
  totpStep,
  totpUri,
} from '../../lib/access/totp.ts';
import { sha256Hex } from '../../lib/catalog/second-factors.ts';
import { HindsightError } from '../../lib/errors.ts';
import { notFound, type Actor } from '../authz.ts';
import { workspaceFor } from './lookups.ts';
import { consoleRelyingParty, secondFactors, SECOND_FACTOR_TTL_MS } from './second-factor-login.ts';
import type { AccessDeps } from './types.ts';

type UserActor = Extract<Actor, { kind: 'user' }>;

export interface SecondFactorStatus {
  totp: boolean;
  recoveryCodesLeft: number;
  passkeys: Array<{ id: number; name: string; createdAt: Date; lastUsedAt: Date | null }>;
  /** A workspace of the user requires a second factor. */
  required: boolean;
}

function userOf(actor: Actor): UserActor {
  if (actor.kind !== 'user')
    throw new HindsightError('forbidden', 'second factors belong to console accounts: sign in as the user');
  return actor;
}

const passkeyNameSchema = (raw: unknown) => {
  const name = String(raw ?? '').trim();
  if (name.length === 0 || name.length > 80)
    throw new HindsightError('bad_input', 'passkey name: give 1 to 80 characters, for example "work laptop"');
  return name;
};

async function newRecoveryCodesFor(deps: AccessDeps, userId: number): Promise<string[]> {
  const codes = newRecoveryCodes();
  await secondFactors(deps).replaceRecoveryCodes(
    userId,
    codes.map((c) => sha256Hex(normalizeRecoveryCode(c))),
  );
  return codes;
}

/** An `ok` audit entry of the user's own sign-in settings, or of the account `target`. */
const auditFor =
  (deps: AccessDeps) =>
  (actor: Actor, action: string, detail: string | null = null, target?: string) =>
    deps.authz.audit(actor, {
      workspaceId: null,
      action,
      outcome: 'ok',
      detail,
      ...(target ? { target: { type: 'user', name: target } } : {}),
    });

/** The authenticator app and recovery codes of the signed-in user, and whether they must enrol. */
function totpOperations(deps: AccessDeps) {
  const store = () => secondFactors(deps);
  const audit = auditFor(deps);

  return {
    async secondFactorStatus(actor: Actor): Promise<SecondFactorStatus> {
      const { userId } = userOf(actor);
      const factors = await store().factorsOf(userId);
      const passkeys = (await store().passkeysOf(userId)).map(({ id, name, createdAt, lastUsedAt }) => ({
        id,
        name,
        createdAt,
        lastUsedAt,
      }));
      return {
        totp: factors.totp,
        recoveryCodesLeft: await store().unusedRecoveryCodes(userId),
        passkeys,
        required: await store().secondFactorRequired(userId),
      };
    },

    /** True when a workspace requires a second factor and the user has none yet: the console sends them to enrol. */
    async mustEnrolSecondFactor(actor: Actor): Promise<boolean> {
      if (actor.kind !== 'user') return false;
      const factors = await store().factorsOf(actor.userId);
      return !factors.totp && factors.passkeys === 0 && (await store().secondFactorRequired(actor.userId));
    },

    /** The secret to scan, kept unconfirmed until a first code proves the app has it. */
    async startTotpEnrolment(actor: Actor): Promise<{ secret: string; uri: string; qrSvg: string } | undefined> {
      const user = userOf(actor);
      const existing = await store().totpOf(user.userId);
      if (existing?.confirmed) return undefined;
      const secret = existing?.secret ?? newTotpSecret();
      if (!existing) await store().saveTotpSecret(user.userId, secret);
      const uri = totpUri(secret, user.email);
      return { secret, uri, qrSvg: await totpQrSvg(uri) };
    },

    /** Confirms the app with its first code; returns the ten recovery codes, shown this once. */
    async confirmTotp(actor: Actor, code: string): Promise<string[]> {
      const user = userOf(actor);
      const pending = await store().totpOf(user.userId);
      if (!pending || pending.confirmed)
        throw new HindsightError(
          'conflict',
          'no authenticator enrolment is under way: start it again on the security page',
        );
      const step = totpStep(pending.secret, String(code ?? ''));
      if (step === undefined || !(await store().acceptTotpStep(user.userId, step, true)))
        throw new HindsightError('bad_input', 'the code is wrong: type the six digits the app shows now');
      const codes = await newRecoveryCodesFor(deps, user.userId);
      await audit(actor, 'auth.totp.enrol', 'authenticator app added; 10 recovery codes issued');
      return codes;
    },

    async regenerateRecoveryCodes(actor: Actor): Promise<string[]> {
      const user = userOf(actor);
      const factors = await store().factorsOf(user.userId);
      if (!factors.totp && factors.passkeys === 0)
        throw new HindsightError(
          'conflict',
          'recovery codes stand in for a second factor: add an authenticator app or a passkey first',
        );
      const codes = await newRecoveryCodesFor(deps, user.userId);
      await audit(actor, 'auth.recovery_codes.renew', 'the earlier recovery codes no longer work');
      return codes;
    },

    async removeTotp(actor: Actor): Promise<void> {
      const user = userOf(actor);
      if (!(await store().totpOf(user.userId))) throw new HindsightError('not_found', 'no authenticator app is set up');
      await store().removeTotp(user.userId);
      await audit(actor, 'auth.totp.remove');
    },
  };
}

/** The signed-in user's passkeys. */
function passkeyOperations(deps: AccessDeps) {
  const store = () => secondFactors(deps);
  const audit = auditFor(deps);

  return {
    /** Options for the browser's passkey creation; the challenge is kept under a token for `registerPasskey`. */
    async passkeyRegistrationOptions(actor: Actor) {
      const user = userOf(actor);
      const record = await deps.store.getUserById(user.userId);
      if (!record) throw notFound({ type: 'user', name: user.email });
      const existing = await store().passkeysOf(user.userId);
      const options = await registrationOptions(consoleRelyingParty(deps), record, existing);
      const token = randomBytes(32).toString('base64url');
      await store().createChallenge(token, {
        purpose: 'passkey_register',
        userId: user.userId,
        challenge: options.challenge,
        ttlMs: SECOND_FACTOR_TTL_MS,
      });
      return { token, options };
    },

    async registerPasskey(actor: Actor, token: string, response: RegistrationResponseJSON, rawName: unknown) {
      const user = userOf(actor);
      const name = passkeyNameSchema(rawName);
      const pending = await store().takeChallenge(String(token ?? ''), 'passkey_register');
      if (!pending?.challenge || pending.userId !== user.userId)
        throw new HindsightError('conflict', 'the passkey registration expired: add the passkey again');
      const passkey = await verifiedRegistration(consoleRelyingParty(deps), response, pending.challenge);
      const saved = await store().addPasskey({ ...passkey, userId: user.userId, name });
      await audit(actor, 'auth.passkey.add', `passkey "${name}" added`);
      return { id: saved.id, name: saved.name };
    },

    async removePasskey(actor: Actor, id: number): Promise<void> {
      const user = userOf(actor);
      const removed = await store().removePasskey(user.userId, Number(id));
      if (!removed) throw notFound({ type: 'passkey', name: String(id) });
      await audit(actor, 'auth.passkey.remove', `passkey "${removed.name}" removed`);
    },
  };
}

/** A workspace's requirement of a second factor, and the operator's reset. */
function requirementOperations(deps: AccessDeps) {
  const store = () => secondFactors(deps);
  const audit = auditFor(deps);

  return {
    /** An owner's switch: members of the workspace without a second factor are sent to enrol. */
    async setSecondFactorRequired(actor: Actor, workspaceName: string, required: boolean): Promise<void> {
      const workspace = await workspaceFor(deps.store, actor, workspaceName);
      const target = { type: 'workspace', name: workspace.name } as const;
      await deps.authz.authorize(actor, workspace.id, 'workspace.secondFactor', target);
      const before = await store().setSecondFactorRequired(workspace.id, required);
      await deps.authz.audit(actor, {
        workspaceId: workspace.id,
        action: 'workspace.secondFactor',
        target,
        outcome: 'ok',
        before: { requireSecondFactor: before },
        after: { requireSecondFactor: required },
      });
    },

    /** The names of the actor's workspaces that require a second factor. */
    async workspacesRequiringSecondFactor(actor: Actor): Promise<string[]> {
      const all = await store().workspacesRequiringSecondFactor();
      return all.filter((w) => actor.kind !== 'user' || actor.memberships.has(w.id)).map((w) => w.name);
    },

    /** The local operator's way back in for a user who lost every factor: removes them all. */
    async resetSecondFactors(actor: Actor, email: string) {
      if (actor.kind !== 'operator')
        throw new HindsightError(
          'forbidden',
          'only the local operator (the hindsight CLI on the server) may reset a second factor',
        );
      const user = await deps.store.findUserByEmail(String(email));
      if (!user) throw notFound({ type: 'user', name: email });
      const removed = await store().resetSecondFactors(user.id);
      await audit(
        actor,
        'auth.second_factor.reset',
        `removed: ${removed.totp ? 'authenticator app, ' : ''}${removed.recoveryCodes} recovery code(s), ${removed.passkeys} passkey(s)`,
        user.email,
      );
      return removed;
    },
  };
}

export function secondFactorEnrolment(deps: AccessDeps) {
  return { ...totpOperations(deps), ...passkeyOperations(deps), ...requirementOperations(deps) };
}
