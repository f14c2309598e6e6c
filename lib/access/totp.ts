/**
 * Time-based one-time passwords (RFC 6238: SHA-1, six digits, 30-second steps, as every
 * authenticator app reads them) through otpauth, and the one-time recovery codes that stand in
 * for a lost authenticator.
 */
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';

const PERIOD = 30;
/** One step either side: a phone clock a little off still signs in. */
const WINDOW = 1;

export const RECOVERY_CODE_COUNT = 10;

function totpFor(secret: string, account = 'hindsight'): TOTP {
  return new TOTP({
    issuer: 'Hindsight',
    label: account,
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
    secret: Secret.fromBase32(secret),
  });
}

/** A new 160-bit secret, base32 as apps take it typed in. */
export const newTotpSecret = (): string => new Secret({ size: 20 }).base32;

/** The otpauth:// URI an authenticator app scans. */
export const totpUri = (secret: string, account: string): string => totpFor(secret, account).toString();

/** The URI as an SVG QR code: markup, not a script or a remote image, so the page's CSP is unaffected. */
export const totpQrSvg = (uri: string): Promise<string> =>
  QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });

/**
 * The time step a code belongs to (within one step of `now`), or undefined for a wrong code. The
 * caller records the step as used, so that the same code is refused the second time.
 */
export function totpStep(secret: string, code: string, now = Date.now()): number | undefined {
  const token = code.replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return undefined;
  const delta = totpFor(secret).validate({ token, timestamp: now, window: WINDOW });
  return delta === null ? undefined : Math.floor(now / 1000 / PERIOD) + delta;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Ten codes of 80 random bits each, shown once as xxxx-xxxx-xxxx-xxxx. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const chars = [...randomBytes(16)].map((b) => BASE32[b & 31]!).join('');
    return chars.toLowerCase().match(/.{4}/g)!.join('-');
  });
}

/** The form a recovery code is hashed in: case, spaces and dashes as typed do not matter. */
export const normalizeRecoveryCode = (code: string): string => code.toLowerCase().replace(/[^a-z2-7]/g, '');
