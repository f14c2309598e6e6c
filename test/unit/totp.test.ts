import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import {
  newRecoveryCodes,
  newTotpSecret,
  normalizeRecoveryCode,
  totpQrSvg,
  totpStep,
  totpUri,
} from '../../lib/access/totp.ts';

/** RFC 6238's SHA-1 test secret ("12345678901234567890") and its published eight-digit codes, cut to six. */
const RFC_SECRET = new Secret({ buffer: new TextEncoder().encode('12345678901234567890').buffer }).base32;
const RFC_CODES: Array<[number, string]> = [
  [59, '287082'],
  [1111111109, '081804'],
  [1234567890, '005924'],
  [2000000000, '279037'],
];

const appCode = (secret: string, at: number) =>
  new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({ timestamp: at });

describe('TOTP codes and recovery codes', () => {
  it("accepts RFC 6238's test vectors, each at its own time step", () => {
    for (const [seconds, code] of RFC_CODES)
      assert.equal(totpStep(RFC_SECRET, code, seconds * 1000), Math.floor(seconds / 30));
  });

  it('accepts one step either side of now and names that step; refuses further, wrong or malformed codes', () => {
    const secret = newTotpSecret();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    const now = 1_800_000_015_000;
    const step = Math.floor(now / 30_000);
    for (const offset of [-1, 0, 1])
      assert.equal(totpStep(secret, appCode(secret, now + offset * 30_000), now), step + offset);
    for (const offset of [-2, 2]) {
      const code = appCode(secret, now + offset * 30_000);
      const nearby = [-1, 0, 1].map((o) => appCode(secret, now + o * 30_000));
      if (!nearby.includes(code)) assert.equal(totpStep(secret, code, now), undefined);
    }
    assert.equal(totpStep(secret, `${appCode(secret, now).slice(0, 3)} ${appCode(secret, now).slice(3)}`, now), step);
    for (const bad of ['', '12345', '1234567', 'abcdef']) assert.equal(totpStep(secret, bad, now), undefined);
  });

  it('writes an otpauth URI and its QR code as SVG markup without script', async () => {
    const uri = totpUri('JBSWY3DPEHPK3PXP', 'ana@example.com');
    assert.match(uri, /^otpauth:\/\/totp\/Hindsight:ana%40example\.com\?.*secret=JBSWY3DPEHPK3PXP/);
    const svg = await totpQrSvg(uri);
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.doesNotMatch(svg, /<script|on\w+=/i);
  });

  it('makes ten distinct recovery codes of 80 bits, read back whatever the case and dashes', () => {
    const codes = newRecoveryCodes();
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    for (const code of codes) assert.match(code, /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
    assert.equal(
      normalizeRecoveryCode(` ${codes[0]!.toUpperCase().replaceAll('-', ' ')} `),
      codes[0]!.replaceAll('-', ''),
    );
  });
});
