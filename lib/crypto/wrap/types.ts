/**
 * Envelope encryption: every encrypted object has its own random 32-byte data key, and the header
 * carries that key wrapped by a key-encryption key. The kinds differ in who can unwrap:
 *
 *   secret          the installation's secret key (the keyring): every worker and agent can unwrap
 *   x25519          an X25519 public key (age-style): only whoever holds the private key can unwrap,
 *                   so a worker that writes backups in this mode cannot read them back
 *   aws-kms         a cloud KMS key: whoever the KMS policy allows, and the KMS can revoke
 *   vault-transit   a HashiCorp Vault transit key: as above, with Vault's policies
 *
 * Rotation of a wrapping key rewraps data keys (a header rewrite) and never touches the data.
 */
export type WrapKind = 'secret' | 'x25519' | 'aws-kms' | 'vault-transit';

export interface WrappedDataKey {
  kind: WrapKind;
  /**
   * Which key-encryption key: a secret key id, an X25519 recipient's public key, a KMS key id or
   * ARN, a Vault transit key name. Shown in errors, so it never holds secret material.
   */
  keyRef: string;
  /** The wrapped data key, as the kind writes it (opaque to everything but the kind). */
  wrapped: Buffer;
}

/**
 * Context bound to the wrapping (KMS encryption context, AEAD associated data): the object's
 * identity, so a wrapped key copied into another object's header does not unwrap there.
 */
export type WrapContext = Readonly<Record<string, string>>;

export interface KeyWrapper {
  readonly kind: WrapKind;
  readonly keyRef: string;
  wrap(dataKey: Buffer, context: WrapContext): Promise<WrappedDataKey>;
}

export interface KeyUnwrapper {
  /** Whether this unwrapper holds what `record` needs (e.g. the private key of its recipient). */
  canUnwrap(record: WrappedDataKey): boolean;
  /** The data key; throws a HindsightError naming `record.keyRef` and the fix when it cannot. */
  unwrap(record: WrappedDataKey, context: WrapContext): Promise<Buffer>;
}
