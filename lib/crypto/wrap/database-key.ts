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
