import type { EncryptionKey } from '../chunk-record.ts';
import type { SecretKey } from '../secret-key.ts';
import { x25519Wrapper } from './x25519.ts';

/**
 * What a database's new objects are encrypted with: its public-key mode recipient (the writer then
 * cannot read them back), or else the installation's current secret key.
 */
export function encryptionKeyFor(database: { encryptionRecipient: string | null }, current: SecretKey): EncryptionKey {
  return database.encryptionRecipient ? x25519Wrapper(database.encryptionRecipient) : current;
}
