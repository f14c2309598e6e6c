import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { openCatalog, type Catalog } from '../lib/catalog/catalog.ts';
import type { Config } from '../lib/config.ts';
import { openKeyring, type Keyring } from '../lib/crypto/keyring.ts';
import { installNamedKmsKeys } from '../lib/crypto/wrap/kms/named.ts';
import { loadOrCreateSecretKey, type SecretKey } from '../lib/crypto/secret-key.ts';
import { HindsightError } from '../lib/errors.ts';
import type { PgTarget } from '../lib/pg/connection.ts';

export const META_DATABASE = 'hindsight';
export const META_SUPERUSER = 'hindsight';

export function metaClusterDir(config: Config): string {
  return path.join(config.dataDir, 'meta');
}

/**
 * Where the catalog lives: DATABASE_URL when set, else the embedded server that `npm start` runs
 * in data/meta (its password sits beside it in data/meta.password, 0600).
 */
export async function catalogTarget(config: Config): Promise<PgTarget | string> {
  if (config.databaseUrl) return config.databaseUrl;
  const passwordFile = `${metaClusterDir(config)}.password`;
  let password: string;
  try {
    password = (await readFile(passwordFile, 'utf8')).trim();
  } catch {
    throw new HindsightError(
      'not_found',
      `no catalog: set DATABASE_URL, or run npm start once to create the embedded one in ${config.dataDir}`,
    );
  }
  return { host: '127.0.0.1', port: config.metaPort, database: META_DATABASE, user: META_SUPERUSER, password };
}

export interface Runtime {
  config: Config;
  /** Every key of the installation: the current one encrypts, any of them decrypts what it wrote. */
  keyring: Keyring;
  /** The current key, as of now (a rotation by another process is picked up on the next read). */
  readonly key: SecretKey;
  /** The other keys (keys dir and HINDSIGHT_PREVIOUS_SECRET_KEY_FILES): they still decrypt what they sealed. */
  readonly previousKeys: SecretKey[];
  catalog: Catalog;
  close(): Promise<void>;
}

/** Opens the keyring and the catalog, applying pending migrations. */
export async function openRuntime(
  config: Config,
  options: { createKey?: boolean; migrate?: boolean } = {},
): Promise<Runtime> {
  if (options.createKey) await loadOrCreateSecretKey(config.secretKeyFile, config.keysDir);
  const keyring = openKeyring({
    currentFile: config.secretKeyFile,
    keysDir: config.keysDir,
    previousFiles: config.previousSecretKeyFiles,
    identityFiles: config.identityFiles,
  });
  const catalog = await openCatalog(await catalogTarget(config), keyring, { migrate: options.migrate });
  // KMS mode: objects wrapped by a named KMS key unwrap here with the catalog's sealed configuration.
  installNamedKmsKeys(() => catalog.kmsKeys.configs());
  return {
    config,
    keyring,
    catalog,
    get key() {
      return keyring.current();
    },
    get previousKeys() {
      return keyring
        .entries()
        .filter((e) => !e.current)
        .map((e) => e.key);
    },
    close: () => catalog.close(),
  };
}
