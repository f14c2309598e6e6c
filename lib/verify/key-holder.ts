import { wrappedKeyRecord } from '../crypto/object-key-record.ts';
import { unwrapperFor, type KeySources } from '../crypto/wrap/registry.ts';
import type { StorageDriver } from '../storage/contract.ts';

/**
 * Why this host cannot decrypt the object, read from its header alone (the first bytes, no key
 * needed): a public-key mode object whose recipient's private key this host does not hold. Undefined
 * when it can, or when the header cannot be read (the verification itself then reports the damage).
 */
export async function missingPrivateKey(
  driver: StorageDriver,
  objectKey: string,
  keys: KeySources,
): Promise<string | undefined> {
  try {
    const record = await wrappedKeyRecord(driver, objectKey);
    if (!record || record.kind === 'secret' || unwrapperFor(keys).canUnwrap(record)) return undefined;
    return `no agent holds the private key for ${record.kind === 'x25519' ? 'recipient' : `${record.kind} key`} ${record.keyRef}: the backup is in public-key mode; list its identity file in HINDSIGHT_IDENTITY_FILES of an agent (worker --agent <name>), which then verifies the backups encrypted for it`;
  } catch {
    return undefined;
  }
}
