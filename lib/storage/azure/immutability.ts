import type { BlobClient, BlobImmutabilityPolicy, ContainerClient } from '@azure/storage-blob';
import { storageError } from '../contract.ts';
import { DAY_MS, lockDate, ObjectLockedError } from '../locked.ts';
import type { AzureImmutability } from './config.ts';
import { errorCodeOf, isMissingBlob, type AzureFailure, type Translate } from './errors.ts';

/**
 * Azure's version-level immutability (time-based retention on each blob version). The policy is
 * sent with the write itself (Put Blob or Put Block List), so a blob is never visible unprotected.
 * A container with it is versioned: deleting a blob leaves its earlier versions billed, so a
 * storage with immutability removes a key by deleting each of its versions, which Azure refuses
 * for a version whose policy has not expired.
 */

/** The policy a blob written now carries: retained until now + days. */
export function immutabilityPolicy(immutability: AzureImmutability | undefined): BlobImmutabilityPolicy | undefined {
  if (!immutability) return undefined;
  return {
    expiriesOn: new Date(Date.now() + immutability.days * DAY_MS),
    policyMode: immutability.mode === 'locked' ? 'Locked' : 'Unlocked',
  };
}

/** Refuses a container without version-level immutability: its blobs would be written unprotected. */
export async function assertContainerImmutable(
  container: ContainerClient,
  label: string,
  translate: Translate,
): Promise<void> {
  let enabled: boolean | undefined;
  try {
    enabled = (await container.getProperties()).isImmutableStorageWithVersioningEnabled;
  } catch (error) {
    throw translate('connect', '', error);
  }
  if (enabled !== true) {
    throw storageError(
      'bad_input',
      label,
      'connect',
      '',
      `container "${container.containerName}" does not have version-level immutability support enabled, which immutability needs: enable it on the container (or create it in an account with it enabled), or remove immutability from the storage settings`,
    );
  }
}

/** The expiry of the policy on the blob (its current version, or the version the client names), when still ahead. */
export async function immutableUntil(blob: BlobClient): Promise<Date | undefined> {
  const properties = await blob.getProperties().catch(() => undefined);
  const until = properties?.immutabilityPolicyExpiresOn;
  return until && until.getTime() > Date.now() ? until : undefined;
}

/** Every version id of exactly the blob `name`, for a container with versioning. */
async function versionsOf(container: ContainerClient, name: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const item of container.listBlobsFlat({ prefix: name, includeVersions: true })) {
    if (item.name === name && item.versionId) ids.push(item.versionId);
  }
  return ids;
}

/** Azure's refusal to delete a blob version under a policy or legal hold. */
const isImmutableRefusal = (error: unknown): boolean =>
  /^BlobImmutableDueTo/.test(errorCodeOf((error ?? {}) as AzureFailure) ?? '');

async function refusalWithDate(
  blob: BlobClient,
  key: string,
  label: string,
  error: unknown,
  translate: Translate,
): Promise<Error> {
  if (!isImmutableRefusal(error)) return translate('remove', key, error);
  // A legal hold has no date: the refusal stays the service's own until someone clears the hold.
  const until = await immutableUntil(blob);
  if (!until) return translate('remove', key, error);
  return new ObjectLockedError(
    storageError(
      'conflict',
      label,
      'remove',
      key,
      `the blob is immutable until ${lockDate(until)} and cannot be deleted before then (retention deletes it on its first run after that date)`,
    ).message,
    until,
  );
}

/** Deletes the blob and each of its versions; a version still immutable is refused with its date. */
export async function removeAllVersions(
  container: ContainerClient,
  name: string,
  key: string,
  label: string,
  translate: Translate,
): Promise<void> {
  const current = container.getBlobClient(name);
  try {
    await current.deleteIfExists({ deleteSnapshots: 'include' });
  } catch (error) {
    throw await refusalWithDate(current, key, label, error, translate);
  }
  let versions: string[];
  try {
    versions = await versionsOf(container, name);
  } catch (error) {
    throw translate('remove', key, error);
  }
  for (const versionId of versions) {
    const version = current.withVersion(versionId);
    try {
      await version.delete();
    } catch (error) {
      if (!isMissingBlob(error)) throw await refusalWithDate(version, key, label, error, translate);
    }
  }
}
