import type { EncryptionKey } from '../chunk-record.ts';
import type { SecretKey } from '../secret-key.ts';
import { namedKmsWrapper } from './kms/named.ts';
import { x25519Wrapper } from './x25519.ts';

/**
 * What a database's new objects are encrypted with, by its effective encryption (its own setting,
 * else its workspace's default): a KMS mode key (a named KMS key), a public-key mode recipient (the
 * writer then cannot read them back), or else the installation's current secret key.
 */
export async function encryptionKeyFor(
  database: { encryption: { recipient: string | null; kms: string | null } },
  current: SecretKey,
): Promise<EncryptionKey> {
  const { kms, recipient } = database.encryption;
  if (kms) return namedKmsWrapper(kms);
  return recipient ? x25519Wrapper(recipient) : current;
}

type EncryptionSetting = Parameters<typeof encryptionKeyFor>[0];

/**
 * The key for each new object of a long-running writer (the WAL stream): the installation's current
 * key as the keyring sees it now, so a rotation applies from the next segment, and the database's
 * effective encryption read again at most every `refreshMs`, so a change of it (or of its workspace's
 * default) does too — without a catalog query for every partial segment of a busy stream.
 */
export function liveEncryptionKey(
  readDatabase: () => Promise<EncryptionSetting>,
  currentKey: () => SecretKey,
  refreshMs = 5000,
): () => Promise<EncryptionKey> {
  let read: { at: number; database: EncryptionSetting } | undefined;
  return async () => {
    if (!read || Date.now() - read.at >= refreshMs) read = { at: Date.now(), database: await readDatabase() };
    return encryptionKeyFor(read.database, currentKey());
  };
}
