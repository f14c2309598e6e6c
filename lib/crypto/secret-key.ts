import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fsyncPath, writeNewFileSynced } from '../durable-files.ts';
import { HindsightError } from '../errors.ts';

/** The root secret: it encrypts catalog secrets and is the root of every backup's data key. */
export interface SecretKey {
  readonly bytes: Buffer;
  /** Non-secret fingerprint written into every backup header, so a wrong key is named, not guessed. */
  readonly id: string;
}

/** Finds the secret key named by a header's key id (a keyring), or throws naming the id. */
export type KeyResolver = (keyId: string) => SecretKey;

const keyLength = 32;

/** A fresh random key (never written anywhere yet). */
export function generateSecretKey(): SecretKey {
  return secretKeyFromBytes(randomBytes(keyLength));
}

export function secretKeyFromBytes(bytes: Buffer): SecretKey {
  if (bytes.length !== keyLength) {
    throw new HindsightError('bad_input', `secret key must be ${keyLength} bytes, got ${bytes.length}`);
  }
  const id = createHash('sha256').update('hindsight key id\0').update(bytes).digest('hex').slice(0, 16);
  return { bytes, id };
}

/** The file holds 64 hex characters and a newline, so it can be printed, copied and stored offline. */
export function parseSecretKeyFile(text: string, file: string): SecretKey {
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/i.test(hex)) {
    throw new HindsightError('bad_input', `secret key file ${file} must contain 64 hexadecimal characters (32 bytes)`);
  }
  return secretKeyFromBytes(Buffer.from(hex, 'hex'));
}

export async function readSecretKey(file: string): Promise<SecretKey> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new HindsightError(
        'not_found',
        `secret key file ${file} does not exist: restore it from your offline copy, or set HINDSIGHT_SECRET_KEY_FILE`,
      );
    }
    throw error;
  }
  return parseSecretKeyFile(text, file);
}

/**
 * A missing current key beside a keys directory that holds keys is a lost file, not a first
 * start: a fresh key would leave everything sealed under the current one unreadable by default.
 */
async function refuseFreshKeyBesideRotatedOnes(file: string, keysDir: string): Promise<void> {
  const held = await readdir(keysDir).then(
    (names) => names.filter((n) => n.endsWith('.key')),
    () => [],
  );
  if (held.length === 0) return;
  throw new HindsightError(
    'not_found',
    `secret key file ${file} is missing, but ${keysDir} holds ${held.join(', ')}: copy the key that was current to ${file} (the one the catalog's secrets name; hindsight key list shows it once the file is back)`,
  );
}

/**
 * Creates the key on first start with mode 0600. Opening with 'wx' fails if another process created
 * it first, in which case that key is the one to use: a key is never overwritten.
 */
export async function loadOrCreateSecretKey(
  file: string,
  keysDir = path.join(path.dirname(file), 'keys'),
): Promise<{ key: SecretKey; created: boolean }> {
  try {
    await stat(file);
    return { key: await readSecretKey(file), created: false };
  } catch (error) {
    if (!(error instanceof HindsightError) && (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    if (error instanceof HindsightError && error.kind !== 'not_found') throw error;
  }
  await refuseFreshKeyBesideRotatedOnes(file, keysDir);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const bytes = randomBytes(keyLength);
  try {
    await writeNewFileSynced(file, `${bytes.toString('hex')}\n`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { key: await readSecretKey(file), created: false };
    throw error;
  }
  return { key: secretKeyFromBytes(bytes), created: true };
}

const keyFileText = (key: SecretKey) => `${key.bytes.toString('hex')}\n`;

async function writeSyncedTemp(file: string, key: SecretKey): Promise<string> {
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  await writeNewFileSynced(temp, keyFileText(key));
  return temp;
}

/**
 * Writes a key to a file that must not exist yet (0600, synced, directory synced), so that it is
 * on disk before anything is encrypted under it. The file appears whole or not at all (written
 * beside it, then hard-linked: link fails rather than replace an existing key). An existing file
 * holding the same key is accepted, so an interrupted rotation can be run again.
 */
export async function writeNewKeyFile(file: string, key: SecretKey): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = await writeSyncedTemp(file, key);
  try {
    await link(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const existing = await readSecretKey(file);
    if (existing.id !== key.id)
      throw new HindsightError(
        'conflict',
        `key file ${file} already holds key ${existing.id}, not ${key.id}: a key file is never overwritten`,
      );
  } finally {
    await rm(temp, { force: true });
  }
  await fsyncPath(path.dirname(file));
}

/** Replaces the current key file in one atomic rename: readers see the old key or the new, never a mix. */
export async function replaceKeyFile(file: string, key: SecretKey): Promise<void> {
  const temp = await writeSyncedTemp(file, key);
  try {
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await fsyncPath(path.dirname(file));
}
