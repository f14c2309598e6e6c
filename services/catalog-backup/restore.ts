/**
 * `hindsight catalog restore` on a new machine: the catalog backup from a storage (named by its
 * configuration alone, since the catalog that knew it is gone) into this installation's empty
 * catalog, then Temporal's schedules and runs made again from it.
 */
import type { Client } from '@temporalio/client';
import { restoreCatalog, type CatalogRestoreResult } from '../../lib/catalog-backup/restore.ts';
import type { Config } from '../../lib/config.ts';
import { keyFileIn } from '../../lib/crypto/keyring.ts';
import { readSecretKey, writeNewKeyFile, type SecretKey } from '../../lib/crypto/secret-key.ts';
import { HindsightError } from '../../lib/errors.ts';
import { createStorageDriver, storageConfigSchema } from '../../lib/storage/index.ts';
import { DEMO_DATABASE } from '../demo.ts';
import { createServices } from '../index.ts';
import { openRuntime, type Runtime } from '../runtime.ts';
import { forgetDatabases, reconcileTemporal, type ReconciledDatabase } from './reconcile.ts';
import { resyncWalRows, type WalResync } from './resync.ts';

export interface CatalogRestoreRequest {
  storageConfig: unknown;
  /** The key the backup was encrypted with, when it is not this installation's current key. */
  keyFile?: string | undefined;
  /** The backup to restore; the newest when absent. */
  id?: string | undefined;
}

export interface CatalogRestoreReport extends CatalogRestoreResult {
  reconciled: ReconciledDatabase[];
  /** Per PITR database, what its archive storage held that the catalog backup did not know. */
  walRows: WalResync[];
  /** Key ids that sealed restored secrets and that this installation does not have. */
  missingKeys: string[];
}

function parseStorageConfig(raw: unknown) {
  const parsed = storageConfigSchema.safeParse(raw);
  if (!parsed.success)
    throw new HindsightError(
      'bad_input',
      `--storage-config: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ')} (the same JSON as storage add --config)`,
    );
  return parsed.data;
}

/**
 * A key given with --key joins this installation's keys directory when it is not known yet: the
 * restored catalog's secrets are sealed under it, and every process must be able to unseal them.
 */
async function installKey(runtime: Runtime, key: SecretKey): Promise<void> {
  if (runtime.keyring.entries().some((e) => e.key.id === key.id)) return;
  await writeNewKeyFile(keyFileIn(runtime.config.keysDir, key.id), key);
  runtime.keyring.reload();
}

async function keysMissing(runtime: Runtime): Promise<string[]> {
  const known = new Set(runtime.keyring.entries().map((e) => e.key.id));
  const used = await runtime.catalog.secrets.sealedSecretsByKey();
  return [...used.keys()].filter((id) => !known.has(id));
}

/** Restores the catalog, then (with Temporal) re-creates every schedule and long-lived run it implies. */
export async function restoreCatalogHere(
  config: Config,
  request: CatalogRestoreRequest,
  temporal: (runtime: Runtime) => Promise<Client>,
): Promise<CatalogRestoreReport> {
  const storage = parseStorageConfig(request.storageConfig);
  const key = request.keyFile ? await readSecretKey(request.keyFile) : undefined;
  const runtime = await openRuntime(config);
  const driver = createStorageDriver('catalog-source', storage);
  try {
    if (key) await installKey(runtime, key);
    const result = await restoreCatalog({
      driver,
      id: request.id,
      key: key ?? runtime.keyring.resolve,
      catalog: runtime.catalog,
      setupDatabases: [DEMO_DATABASE],
    });
    // Before archiving resumes: the receiver must start from rows that say what storage holds.
    const walRows = await resyncWalRows(runtime);
    const client = await temporal(runtime);
    try {
      const services = createServices(runtime, client);
      await forgetDatabases(
        services.ctx,
        result.replaced.filter((d) => !result.contents.databases.includes(d)),
      );
      const reconciled = await reconcileTemporal(services.ctx);
      await services.databases.ensureMonitors();
      return { ...result, reconciled, walRows, missingKeys: await keysMissing(runtime) };
    } finally {
      await client.connection.close();
    }
  } finally {
    await driver.close?.().catch(() => undefined);
    await runtime.close();
  }
}
