import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { HindsightError } from '../../errors.ts';

/**
 * X25519 key pairs for the public-key mode, as text that can be printed and typed back:
 *
 *   recipient (public key)   "hspub1" ‖ base64url(32 raw bytes), no padding: 49 characters
 *   identity (private key)   "hssec1" ‖ base64url(32 raw bytes), no padding, on its own line of an
 *                            identity file; lines starting with "#" and blank lines are ignored,
 *                            so the file can say what it is and which recipient it belongs to
 */
export const RECIPIENT_PREFIX = 'hspub1';
export const IDENTITY_PREFIX = 'hssec1';
const RAW_BYTES = 32;

export interface X25519Identity {
  /** The recipient this private key decrypts for. */
  readonly recipient: string;
  readonly privateKey: KeyObject;
  /** Where it was read from, for messages. */
  readonly source: string;
}

function rawFromText(text: string, prefix: string, what: string): Buffer {
  const body = text.startsWith(prefix) ? text.slice(prefix.length) : undefined;
  const raw = body !== undefined && /^[A-Za-z0-9_-]{43}$/.test(body) ? Buffer.from(body, 'base64url') : undefined;
  if (!raw || raw.length !== RAW_BYTES) {
    throw new HindsightError(
      'bad_input',
      `"${text.slice(0, 12)}…" is not an X25519 ${what}: expected ${prefix} followed by 43 base64url characters (hindsight key generate makes one)`,
    );
  }
  return raw;
}

export function publicKeyFromRecipient(recipient: string): KeyObject {
  const raw = rawFromText(recipient, RECIPIENT_PREFIX, 'recipient (public key)');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/** Checks a recipient's text; returns it unchanged. */
export function parseRecipient(recipient: string): string {
  publicKeyFromRecipient(recipient.trim());
  return recipient.trim();
}

export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  return Buffer.from(jwk.x!, 'base64url');
}

export function recipientOf(key: KeyObject): string {
  return `${RECIPIENT_PREFIX}${rawPublicKey(key).toString('base64url')}`;
}

/** PKCS#8 DER prefix of an X25519 private key (RFC 8410): the raw 32 bytes follow. */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

function identityFromLine(line: string, source: string): X25519Identity {
  const raw = rawFromText(line, IDENTITY_PREFIX, 'identity (private key)');
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_X25519_PREFIX, raw]),
    format: 'der',
    type: 'pkcs8',
  });
  return { recipient: recipientOf(createPublicKey(privateKey)), privateKey, source };
}

export function parseIdentityFile(text: string, source: string): X25519Identity[] {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith('#'));
  if (lines.length === 0)
    throw new HindsightError('bad_input', `identity file ${source} holds no ${IDENTITY_PREFIX}… line`);
  return lines.map((line) => identityFromLine(line, source));
}

export async function readIdentityFile(file: string): Promise<X25519Identity[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new HindsightError(
        'not_found',
        `identity file ${file} does not exist: give the file hindsight key generate wrote`,
      );
    throw error;
  }
  return parseIdentityFile(text, file);
}

/** A fresh key pair: the identity file's text and its recipient. */
export function generateIdentity(now = new Date()): { recipient: string; fileText: string } {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const recipient = recipientOf(publicKey);
  const secret = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url').toString('base64url');
  const fileText = [
    `# Hindsight X25519 identity, made ${now.toISOString()}. It decrypts every backup written for the`,
    '# recipient below: keep a copy offline, away from the storage, and give it only to restores.',
    `# recipient: ${recipient}`,
    `${IDENTITY_PREFIX}${secret}`,
    '',
  ].join('\n');
  return { recipient, fileText };
}
