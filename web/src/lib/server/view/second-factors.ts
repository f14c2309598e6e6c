/** Second factors and passkeys as the console's sign-in and security pages use them (services/access/second-factor*.ts decide). */
import type { AccessService } from '../../../../../services/access.ts';

export type ConsoleSecondFactors = Pick<
  AccessService,
  | 'secondFactorStatus'
  | 'mustEnrolSecondFactor'
  | 'startTotpEnrolment'
  | 'confirmTotp'
  | 'removeTotp'
  | 'regenerateRecoveryCodes'
  | 'passkeyRegistrationOptions'
  | 'registerPasskey'
  | 'removePasskey'
  | 'setSecondFactorRequired'
  | 'workspacesRequiringSecondFactor'
  | 'pendingSecondFactorMethods'
  | 'completeWithTotp'
  | 'completeWithRecoveryCode'
  | 'secondFactorPasskeyOptions'
  | 'completeWithPasskey'
  | 'passkeySignInOptions'
  | 'completePasskeySignIn'
>;

/** The cookie that carries a half-finished sign-in: it opens no page, only the second step under /login. */
export const PENDING_COOKIE = 'hindsight_second_factor';
/** The cookie of a passwordless passkey sign-in under way (its challenge). */
export const PASSKEY_SIGN_IN_COOKIE = 'hindsight_passkey_sign_in';
