import type { WrapContext } from '../types.ts';

/**
 * The WrapContext as bytes, for providers that bind associated data rather than a map (Vault's
 * associated_data and context): the pairs sorted by name, as JSON, so that the same context always
 * gives the same bytes whatever order its fields were built in.
 */
export function canonicalContext(context: WrapContext): Buffer {
  const sorted = Object.keys(context)
    .sort()
    .map((name) => [name, context[name]]);
  return Buffer.from(JSON.stringify(sorted), 'utf8');
}

/** The context as KMS's EncryptionContext takes it: a plain copy, so that the SDK cannot see a frozen or proxied object. */
export function contextMap(context: WrapContext): Record<string, string> {
  return Object.fromEntries(Object.entries(context));
}

/** A data key is 32 random bytes; anything else is a caller's mistake that must not reach a KMS. */
export function assertDataKey(dataKey: Buffer): void {
  if (dataKey.length !== 32) throw new TypeError(`a data key is 32 bytes, got ${dataKey.length}`);
}
