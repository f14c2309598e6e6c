import type { EncryptionKey } from '../chunk-record.ts';
import type { SecretKey } from '../secret-key.ts';
import { namedKmsWrapper } from './kms/named.ts';
import { x25519Wrapper } from './x25519.ts';

/**
 * What a database's new objects are encrypted with: its KMS mode key (a named KMS key), its
 * public-key mode recipient (the writer then cannot read them back), or else the installation's
 * current secret key.
 */
export async function encryptionKeyFor(
  database: { encryptionRecipient: string | null; encryptionKms: string | null },
  current: SecretKey,
): Promise<EncryptionKey> {
  if (database.encryptionKms) return namedKmsWrapper(database.encryptionKms);
  return database.encryptionRecipient ? x25519Wrapper(database.encryptionRecipient) : current;
}
