/** Second factors and passkeys, bound to the access service's dependencies (see the two modules). */
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { secondFactorEnrolment } from './second-factor-enrol.ts';
import {
  completePasskeySignIn,
  completeWithPasskey,
  completeWithRecoveryCode,
  completeWithTotp,
  passkeySignInOptions,
  pendingMethods,
  secondFactorPasskeyOptions,
  type ClientInfo,
} from './second-factor-login.ts';
import type { AccessDeps } from './types.ts';

export type { ClientInfo, OpenedSession, PendingSecondFactor } from './second-factor-login.ts';
export type { SecondFactorStatus } from './second-factor-enrol.ts';

export function secondFactorOperations(deps: AccessDeps) {
  return {
    ...secondFactorEnrolment(deps),
    pendingSecondFactorMethods: (token: string) => pendingMethods(deps, token),
    completeWithTotp: (token: string, code: string, client: ClientInfo) => completeWithTotp(deps, token, code, client),
    completeWithRecoveryCode: (token: string, code: string, client: ClientInfo) =>
      completeWithRecoveryCode(deps, token, code, client),
    secondFactorPasskeyOptions: (token: string) => secondFactorPasskeyOptions(deps, token),
    completeWithPasskey: (token: string, response: AuthenticationResponseJSON, client: ClientInfo) =>
      completeWithPasskey(deps, token, response, client),
    passkeySignInOptions: () => passkeySignInOptions(deps),
    completePasskeySignIn: (token: string, response: AuthenticationResponseJSON, client: ClientInfo) =>
      completePasskeySignIn(deps, token, response, client),
  };
}
