import { MAX_HEADER_BYTES, decodeHeader } from '../crypto/backup-header.ts';
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
  const parts: Buffer[] = [];
  try {
    const size = (await driver.stat(objectKey))?.size ?? 0;
    for await (const part of await driver.openRead(objectKey, { start: 0, end: Math.min(size, MAX_HEADER_BYTES) }))
      parts.push(part as Buffer);
    const header = decodeHeader(Buffer.concat(parts));
    const record = header.wrappedKey;
    if (!record || record.kind === 'secret' || unwrapperFor(keys).canUnwrap(record)) return undefined;
    return `no agent holds the private key for ${record.kind === 'x25519' ? 'recipient' : `${record.kind} key`} ${record.keyRef}: the backup is in public-key mode; list its identity file in HINDSIGHT_IDENTITY_FILES on a verification agent to verify it there`;
  } catch {
    return undefined;
  }
}
