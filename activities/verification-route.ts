import type { Catalog } from '../lib/catalog/catalog.ts';
import type { Keyring } from '../lib/crypto/keyring.ts';
import { wrappedKeyRecord } from '../lib/crypto/object-key-record.ts';
import { unwrapperFor } from '../lib/crypto/wrap/registry.ts';
import type { Logger } from '../lib/logger.ts';
import { bindActivities } from './bind.ts';
import { withDrivers } from './storage-access.ts';

export interface VerificationRouteDeps {
  catalog: Catalog;
  keyring: Keyring;
  logger: Logger;
}

/**
 * The agent a backup's verification goes to: for a backup in public-key mode that this worker's
 * keys cannot open, an agent that said at its start it holds the recipient's identity (the one heard
 * from last). Null otherwise: the verification queue's agents verify it, or record it skipped and why.
 * The recipient comes from the object's header, so a backup keeps going to the key that wrote it
 * after its database's recipient changes.
 */
async function verificationAgent(
  deps: VerificationRouteDeps,
  input: { database: string; backupId: string },
): Promise<{ agent: string | null }> {
  const { catalog, keyring, logger } = deps;
  const backup = await catalog.getBackup(input.backupId);
  const objectKey = backup.objectKey;
  const first = backup.copies.find((c) => c.status === 'complete')?.storageName;
  if (!objectKey || !first) return { agent: null };
  // A header that cannot be read is left to the verification itself, which reports the damage.
  const record = await withDrivers(catalog, [first], ([source]) =>
    wrappedKeyRecord(source!.driver, objectKey).catch(() => undefined),
  );
  if (record?.kind !== 'x25519' || unwrapperFor(keyring.decryption()).canUnwrap(record)) return { agent: null };
  const [agent] = await catalog.agentRecipients.holding(record.keyRef);
  if (agent)
    logger.info({ ...input, recipient: record.keyRef, agent }, 'verification sent to the agent holding the key');
  return { agent: agent ?? null };
}

export const createVerificationRouteActivities = (deps: VerificationRouteDeps) =>
  bindActivities(deps, { verificationAgent });
