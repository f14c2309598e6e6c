import { HindsightError } from '../../../errors.ts';
import { registerWrapKind } from '../registry.ts';
import type { KeyUnwrapper, KeyWrapper, WrapContext, WrapKind, WrappedDataKey } from '../types.ts';
import type { KmsConfig } from './config.ts';
import { kmsWrapper, type KmsWrapper } from './index.ts';

/**
 * KMS mode: the installation's named KMS keys (hindsight key kms add), read from the catalog with
 * their sealed credentials opened whenever one is needed, so that a key added, changed or removed
 * by another process counts from its next object on. A process that opens the catalog installs
 * them (services/runtime.ts); every reader in it then unwraps 'aws-kms' and 'vault-transit' records
 * by the key the header names, whichever worker wrote them.
 */
export interface NamedKmsKey {
  name: string;
  /** What headers name the key by: an AWS key's ARN, a Vault transit key's name. */
  keyRef: string;
  config: KmsConfig;
}

export type NamedKmsSource = () => Promise<NamedKmsKey[]>;

export const KMS_KINDS: readonly WrapKind[] = ['aws-kms', 'vault-transit'];

export const kindOfProvider = (provider: KmsConfig['provider']): WrapKind =>
  provider === 'aws' ? 'aws-kms' : 'vault-transit';

let installed: NamedKmsSource | undefined;

/** Runs `work` with a wrapper for `config`, released afterwards. */
async function using<T>(config: KmsConfig, work: (wrapper: KmsWrapper) => Promise<T>): Promise<T> {
  const wrapper = kmsWrapper(config);
  try {
    return await work(wrapper);
  } finally {
    await wrapper.close();
  }
}

/** An unwrapper over the named keys: each record goes to the named key its header names. */
export function namedKmsUnwrapper(source: NamedKmsSource): KeyUnwrapper {
  return {
    canUnwrap: (record) => KMS_KINDS.includes(record.kind),
    async unwrap(record: WrappedDataKey, context: WrapContext): Promise<Buffer> {
      const keys = await source();
      const named = keys.find((k) => kindOfProvider(k.config.provider) === record.kind && k.keyRef === record.keyRef);
      if (!named) {
        throw new HindsightError(
          'access_denied',
          `this object's data key is wrapped by ${record.kind} key ${record.keyRef}, which is none of this installation's named KMS keys: add it (hindsight key kms add <name> --config …), or decrypt the file with hindsight decrypt --kms-config`,
        );
      }
      return using(named.config, (wrapper) => wrapper.unwrap(record, context));
    },
  };
}

/** Makes the named keys of `source` what this process unwraps KMS records with. */
export function installNamedKmsKeys(source: NamedKmsSource): void {
  installed = source;
  const unwrapper = namedKmsUnwrapper(source);
  for (const kind of KMS_KINDS) {
    registerWrapKind(kind, { unwrapper: (sources) => sources.kms ?? unwrapper });
  }
}

/** The named key `name`, with its credentials: what a backup's data plane wraps with. */
export async function namedKmsKey(name: string): Promise<NamedKmsKey> {
  if (!installed) {
    throw new HindsightError(
      'bad_input',
      `KMS key "${name}" is read from the catalog, which this process has not opened: run this on a worker`,
    );
  }
  const key = (await installed()).find((k) => k.name === name);
  if (!key)
    throw new HindsightError(
      'not_found',
      `KMS key "${name}" does not exist (hindsight key kms list shows the named ones)`,
    );
  return key;
}

/** A wrapper for the named key, held for as long as the caller writes (a WAL stream, a base backup). */
export async function namedKmsWrapper(name: string): Promise<KeyWrapper> {
  return kmsWrapper((await namedKmsKey(name)).config);
}
