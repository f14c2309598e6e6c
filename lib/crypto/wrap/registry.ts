import { HindsightError } from '../../errors.ts';
import type { KeyResolver, SecretKey } from '../secret-key.ts';
import { secretUnwrapper, secretWrapper } from './secret.ts';
import type { KeyUnwrapper, KeyWrapper, WrapContext, WrapKind, WrappedDataKey } from './types.ts';
import { x25519Unwrapper, x25519Wrapper } from './x25519.ts';
import type { X25519Identity } from './x25519-keys.ts';

/**
 * Where a wrapping kind is chosen. Writers ask `wrapperFor` for the wrapper of a key-encryption
 * setting; readers build one `KeyUnwrapper` from what they hold (`unwrapperFor`) and it hands each
 * header's record to its kind. A kind that needs outside configuration (a KMS) plugs in with
 * `registerWrapKind`, so nothing here has to know it.
 */
export interface KeySources {
  /** The installation's secret key or keyring: unwraps 'secret' records (and reads versions 1 and 2). */
  secret?: SecretKey | KeyResolver;
  /** Private keys of X25519 recipients: unwrap 'x25519' records. */
  identities?: readonly X25519Identity[];
  /**
   * Unwraps KMS records ('aws-kms', 'vault-transit'): a KMS key's own configuration (hindsight
   * decrypt --kms-config). Without it, the installation's named KMS keys (kms/named.ts), if this
   * process opened the catalog.
   */
  kms?: KeyUnwrapper;
}

/** How to encrypt new objects: under the secret key, or for a recipient or KMS key named by keyRef. */
export type WrapSetting = { kind: 'secret'; key: SecretKey } | { kind: Exclude<WrapKind, 'secret'>; keyRef: string };

export interface WrapKindPlugin {
  wrapper?: (keyRef: string) => KeyWrapper;
  unwrapper?: (sources: KeySources) => KeyUnwrapper | undefined;
}

const plugins = new Map<WrapKind, WrapKindPlugin>([
  ['x25519', { wrapper: x25519Wrapper, unwrapper: (sources) => x25519Unwrapper(sources.identities ?? []) }],
  ['secret', { unwrapper: (sources) => (sources.secret ? secretUnwrapper(sources.secret) : undefined) }],
  // KMS kinds unwrap with the KMS configuration given; kms/named.ts adds the installation's named keys.
  ['aws-kms', { unwrapper: (sources) => sources.kms }],
  ['vault-transit', { unwrapper: (sources) => sources.kms }],
]);

/** Adds (or replaces) the wrapper and unwrapper of a kind, e.g. from lib/crypto/wrap/kms/. */
export function registerWrapKind(kind: WrapKind, plugin: WrapKindPlugin): void {
  plugins.set(kind, plugin);
}

export function wrapperFor(setting: WrapSetting): KeyWrapper {
  if (setting.kind === 'secret') return secretWrapper(setting.key);
  const make = plugins.get(setting.kind)?.wrapper;
  if (!make) {
    throw new HindsightError(
      'bad_input',
      `encryption kind ${setting.kind} is not available in this Hindsight: choose 'secret' or 'x25519' (public-key mode)`,
    );
  }
  return make(setting.keyRef);
}

/** One unwrapper over everything `sources` holds, choosing by each record's kind. */
export function unwrapperFor(sources: KeySources): KeyUnwrapper {
  const forKind = (kind: WrapKind): KeyUnwrapper | undefined => plugins.get(kind)?.unwrapper?.(sources);
  return {
    canUnwrap: (record) => forKind(record.kind)?.canUnwrap(record) ?? false,
    async unwrap(record: WrappedDataKey, context: WrapContext): Promise<Buffer> {
      const unwrapper = forKind(record.kind);
      if (!unwrapper) {
        throw new HindsightError(
          'access_denied',
          `this object's data key is wrapped by ${record.kind} key ${record.keyRef}, and nothing here can unwrap that kind: ${record.kind === 'secret' ? 'give the secret key (--key <file>)' : 'give the KMS key and credentials for it (hindsight decrypt --kms-config <json|@file>)'}`,
        );
      }
      return unwrapper.unwrap(record, context);
    },
  };
}
