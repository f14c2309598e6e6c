import type { ContainerClient } from '@azure/storage-blob';
import { CONNECTION_TEST_DIR } from '../connection-test.ts';
import { assertRange, assertSafeKey, storageError, type ObjectInfo, type StorageDriver } from '../contract.ts';
import { listedDirParts } from '../shared/settings.ts';
import { CONNECT_TIMEOUT_MS, IDLE_TIMEOUT_MS, openClients, type AzureTimeouts, type Clients } from './client.ts';
import { normalizePrefix, type AzureStorageConfig } from './config.ts';
import { azureTranslator, connectionStringSecrets, redactor, type Translate } from './errors.ts';
import { assertContainerImmutable, immutabilityPolicy, immutableUntil, removeAllVersions } from './immutability.ts';
import { openBlobRead, statBlob } from './read.ts';
import { BlockUpload } from './write.ts';

/** Every blob below `listPrefix`, keyed without the storage's own `rootPrefix`. */
async function listBlobs(container: ContainerClient, rootPrefix: string, listPrefix: string): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  const pages = container
    .listBlobsFlat({ ...(listPrefix ? { prefix: listPrefix } : {}), includeMetadata: true })
    .byPage({ maxPageSize: 5000 });
  for await (const page of pages) {
    for (const item of page.segment.blobItems) {
      // Accounts with a hierarchical namespace list directories as empty marker blobs.
      if (item.metadata?.['hdi_isfolder'] === 'true') continue;
      out.push({
        key: item.name.slice(rootPrefix.length),
        size: item.properties.contentLength ?? 0,
        modifiedAt: item.properties.lastModified,
      });
    }
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

function connect(config: AzureStorageConfig, label: string, timeouts: AzureTimeouts): Clients {
  try {
    return openClients(config, timeouts);
  } catch (error) {
    // Only reached with a config that bypassed the schema; the SDK's message never holds the secret, but be sure.
    const scrub = redactor(
      config.connectionString ? connectionStringSecrets(config.connectionString) : [config.accountKey ?? ''],
    );
    throw storageError('bad_input', label, 'connect', '', scrub((error as Error).message));
  }
}

/**
 * Azure Blob Storage: objects are block blobs named `<prefix>/<key>` in one container. Writes
 * stage blocks and commit the block list, which makes the blob visible in one step.
 */
export function createAzureStorage(options: {
  name: string;
  config: AzureStorageConfig;
  timeouts?: Partial<AzureTimeouts>;
}): StorageDriver {
  const { config } = options;
  const label = `azure "${options.name}"`;
  const timeouts: AzureTimeouts = { connectMs: CONNECT_TIMEOUT_MS, idleMs: IDLE_TIMEOUT_MS, ...options.timeouts };
  const { container, agent, endpoint, secrets } = connect(config, label, timeouts);
  const translate: Translate = azureTranslator({ label, container: config.container, endpoint, secrets });
  const prefix = normalizePrefix(config.prefix);
  const blobName = (key: string): string => {
    assertSafeKey(key);
    return prefix ? `${prefix}/${key}` : key;
  };

  return {
    label,

    openWrite: async (key) =>
      new BlockUpload(container.getBlockBlobClient(blobName(key)), key, translate, () =>
        // The connection test's probe must stay removable at once.
        key.startsWith(`${CONNECTION_TEST_DIR}/`) ? undefined : immutabilityPolicy(config.immutability),
      ),

    async openRead(key, range) {
      assertRange(range);
      return openBlobRead(container, blobName(key), key, range, translate);
    },

    stat: (key) => statBlob(container, blobName(key), key, translate),

    async list(dir) {
      const parts = listedDirParts(dir);
      const rootPrefix = prefix ? `${prefix}/` : '';
      try {
        return await listBlobs(container, rootPrefix, `${rootPrefix}${parts.map((part) => `${part}/`).join('')}`);
      } catch (error) {
        throw translate('list', dir, error);
      }
    },

    async remove(key) {
      const name = blobName(key);
      if (config.immutability) return removeAllVersions(container, name, key, label, translate);
      try {
        await container.getBlobClient(name).deleteIfExists({ deleteSnapshots: 'include' });
      } catch (error) {
        throw translate('remove', key, error);
      }
    },

    async checkSettings() {
      if (config.immutability) await assertContainerImmutable(container, label, translate);
    },

    // Asked even when these settings set no policy: blobs written under an earlier immutability keep theirs.
    lockedUntil: (key) => immutableUntil(container.getBlobClient(blobName(key))),

    async sweepAbandonedWrites() {
      // An abandoned write leaves only uncommitted blocks: they are never listed or readable, the
      // service has no call to delete them, and it discards them itself after a week (or when the
      // same blob is next committed). There is nothing visible to remove.
      return 0;
    },

    async close() {
      agent.destroy();
    },
  };
}
