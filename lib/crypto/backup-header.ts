import { HindsightError } from '../errors.ts';
import { MAX_IDENTITY_BYTES, decodeIdentity, encodeIdentity, type ObjectIdentity } from './object-identity.ts';
import type { WrapContext, WrapKind, WrappedDataKey } from './wrap/types.ts';

/**
 * The header of an encrypted object (docs/backup-format.md is the normative description):
 *
 *   version 1 (50 bytes):      magic "HSBK" ‖ version u8 = 1 ‖ algorithm u8 = 1 ‖ chunk size u32be ‖
 *                              salt (32) ‖ key id (8)
 *   version 2 (52 + n bytes):  the same 50 bytes with version = 2 ‖ identity length n u16be ‖
 *                              identity (n bytes of UTF-8 JSON, lib/crypto/object-identity.ts)
 *   version 3 (16 + n + r + w): magic ‖ version u8 = 3 ‖ algorithm u8 = 2 ‖ chunk size u32be ‖
 *                              identity length n u16be ‖ identity ‖ — the bound part ends here —
 *                              wrap kind u8 ‖ key ref length r u8 ‖ key ref ‖ wrapped length w u16be ‖ wrapped
 *
 * Versions 1 and 2 have no tag of their own: the whole header starts every chunk's associated
 * data. In version 3 only the bound part does, so the wrapped data key can be replaced (a rotation
 * rewraps it) without touching a chunk; the wrapped key is bound to the identity by its own wrap.
 */
export const MAGIC = Buffer.from('HSBK', 'ascii');
/** What Hindsight writes. */
export const FORMAT_VERSION = 3;
/** Version 2: identity, data key from HKDF(secret key, salt). Still read, never written. */
export const DERIVED_KEY_FORMAT_VERSION = 2;
/** The first version, without identity: still read, never written. */
export const UNBOUND_FORMAT_VERSION = 1;
export const ALGORITHM_AES256GCM_HKDF_SHA256 = 1;
export const ALGORITHM_AES256GCM_WRAPPED_KEY = 2;
/** The part versions 1 and 2 share; a version 1 header is exactly this long. */
export const HEADER_PREFIX_LENGTH = 50;
/** What every version has before its version-specific fields: magic, version, algorithm, chunk size. */
const COMMON_LENGTH = 10;
const IDENTITY_LENGTH_BYTES = 2;
const MAX_CHUNK_SIZE = 64 * 1024 * 1024;
const MAX_WRAPPED_BYTES = 4096;
const MAX_KEY_REF_BYTES = 255;
/** No header of any version is longer (version 3 with the longest identity, key ref and wrapped key). */
export const MAX_HEADER_BYTES = 16 + MAX_IDENTITY_BYTES + MAX_KEY_REF_BYTES + MAX_WRAPPED_BYTES;

/** The wrap kinds as stored in a version 3 header. */
export const WRAP_KIND_CODES: Readonly<Record<WrapKind, number>> = {
  secret: 1,
  x25519: 2,
  'aws-kms': 3,
  'vault-transit': 4,
};

export type FormatVersion = 1 | 2 | 3;

export interface BackupHeader {
  version: FormatVersion;
  algorithm: number;
  chunkSize: number;
  /** Versions 1 and 2: the HKDF salt of the data key. */
  salt?: Buffer;
  /** Which key opens the object: the secret key's id (versions 1, 2), the wrapped key's keyRef (3). */
  keyId: string;
  /** Versions 2 and 3: what the object is. Version 1 binds no identity. */
  identity?: ObjectIdentity;
  /** Version 3: the object's data key, wrapped. */
  wrappedKey?: WrappedDataKey;
}

function encodeCommon(version: FormatVersion, algorithm: number, chunkSize: number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  MAGIC.copy(bytes, 0);
  bytes.writeUInt8(version, 4);
  bytes.writeUInt8(algorithm, 5);
  bytes.writeUInt32BE(chunkSize, 6);
  return bytes;
}

function encodeIdentityField(identity: ObjectIdentity | undefined, version: number): Buffer {
  if (!identity) throw new HindsightError('bad_input', `a version ${version} header needs the object identity`);
  const encoded = encodeIdentity(identity);
  const length = Buffer.alloc(IDENTITY_LENGTH_BYTES);
  length.writeUInt16BE(encoded.length, 0);
  return Buffer.concat([length, encoded]);
}

function encodeWrappedKey(record: WrappedDataKey): Buffer {
  const ref = Buffer.from(record.keyRef, 'utf8');
  if (ref.length < 1 || ref.length > MAX_KEY_REF_BYTES || record.wrapped.length > MAX_WRAPPED_BYTES)
    throw new HindsightError('bad_input', `wrapped key ${record.keyRef} does not fit a version 3 header`);
  const fields = Buffer.alloc(2);
  fields.writeUInt8(WRAP_KIND_CODES[record.kind], 0);
  fields.writeUInt8(ref.length, 1);
  const wrappedLength = Buffer.alloc(2);
  wrappedLength.writeUInt16BE(record.wrapped.length, 0);
  return Buffer.concat([fields, ref, wrappedLength, record.wrapped]);
}

export function encodeHeader(header: BackupHeader): Buffer {
  if (header.version === FORMAT_VERSION) {
    if (!header.wrappedKey) throw new HindsightError('bad_input', 'a version 3 header needs the wrapped data key');
    const common = encodeCommon(3, ALGORITHM_AES256GCM_WRAPPED_KEY, header.chunkSize, COMMON_LENGTH);
    return Buffer.concat([common, encodeIdentityField(header.identity, 3), encodeWrappedKey(header.wrappedKey)]);
  }
  const prefix = encodeCommon(header.version, header.algorithm, header.chunkSize, HEADER_PREFIX_LENGTH);
  header.salt!.copy(prefix, 10);
  Buffer.from(header.keyId, 'hex').copy(prefix, 42);
  if (header.version === UNBOUND_FORMAT_VERSION) return prefix;
  return Buffer.concat([prefix, encodeIdentityField(header.identity, 2)]);
}

function checkPrefix(bytes: Buffer): FormatVersion {
  if (bytes.length < 5 || !bytes.subarray(0, 4).equals(MAGIC)) {
    throw new HindsightError(
      'integrity',
      'not a Hindsight backup file (bad magic): the file is not encrypted by Hindsight, or its first bytes are damaged',
    );
  }
  const version = bytes.readUInt8(4);
  if (version < UNBOUND_FORMAT_VERSION || version > FORMAT_VERSION) {
    throw new HindsightError(
      'integrity',
      `backup format version ${version} is not supported by this Hindsight (it reads versions ${UNBOUND_FORMAT_VERSION} to ${FORMAT_VERSION}): upgrade Hindsight`,
    );
  }
  return version as FormatVersion;
}

/** The identity length at `at`, checked; undefined while unknown. */
function identityLengthAt(bytes: Buffer, at: number): number | undefined {
  if (bytes.length < at + IDENTITY_LENGTH_BYTES) return undefined;
  const identityLength = bytes.readUInt16BE(at);
  if (identityLength < 1 || identityLength > MAX_IDENTITY_BYTES) {
    throw new HindsightError(
      'integrity',
      `backup header claims a ${identityLength}-byte identity (1 … ${MAX_IDENTITY_BYTES}): the header is damaged`,
    );
  }
  return identityLength;
}

/** The length of a version 3 header's bound part (what the chunks authenticate); undefined while unknown. */
function boundLengthV3(bytes: Buffer): number | undefined {
  const n = identityLengthAt(bytes, COMMON_LENGTH);
  return n === undefined ? undefined : COMMON_LENGTH + IDENTITY_LENGTH_BYTES + n;
}

function v3Length(bytes: Buffer): number | undefined {
  const bound = boundLengthV3(bytes);
  if (bound === undefined || bytes.length < bound + 2) return undefined;
  const refLength = bytes.readUInt8(bound + 1);
  if (bytes.length < bound + 2 + refLength + 2) return undefined;
  const wrappedLength = bytes.readUInt16BE(bound + 2 + refLength);
  if (refLength < 1 || wrappedLength < 1 || wrappedLength > MAX_WRAPPED_BYTES)
    throw new HindsightError('integrity', 'backup header holds an impossible wrapped data key: the header is damaged');
  return bound + 2 + refLength + 2 + wrappedLength;
}

/**
 * How long the header that starts with `bytes` is, or undefined while too few bytes are known to
 * tell. Throws as soon as the magic or version is wrong.
 */
export function headerLength(bytes: Buffer): number | undefined {
  if (bytes.length < 5) return undefined;
  const version = checkPrefix(bytes);
  if (version === UNBOUND_FORMAT_VERSION) return HEADER_PREFIX_LENGTH;
  if (version === FORMAT_VERSION) return v3Length(bytes);
  const n = identityLengthAt(bytes, HEADER_PREFIX_LENGTH);
  return n === undefined ? undefined : HEADER_PREFIX_LENGTH + IDENTITY_LENGTH_BYTES + n;
}

/**
 * The part of a whole header that every chunk authenticates: all of it in versions 1 and 2, the
 * bound part (up to the identity) in version 3.
 */
export function authenticatedHeader(header: Buffer): Buffer {
  return checkPrefix(header) === FORMAT_VERSION ? header.subarray(0, boundLengthV3(header)) : header;
}

/** The wrap context of a version 3 object: its identity as stored, so a wrapped key is bound to it. */
export function wrapContextOf(identity: ObjectIdentity): WrapContext {
  return { 'hindsight-object': encodeIdentity(identity).toString('utf8') };
}

/** The same header with another wrapped data key: the bound part, and so every chunk, stays valid. */
export function withWrappedKey(header: Buffer, record: WrappedDataKey): Buffer {
  if (checkPrefix(header) !== FORMAT_VERSION)
    throw new HindsightError('bad_input', 'only a version 3 header carries a wrapped data key to replace');
  return Buffer.concat([authenticatedHeader(header), encodeWrappedKey(record)]);
}

function decodeWrappedKey(bytes: Buffer, at: number): WrappedDataKey {
  const code = bytes.readUInt8(at);
  const kind = (Object.keys(WRAP_KIND_CODES) as WrapKind[]).find((k) => WRAP_KIND_CODES[k] === code);
  if (!kind)
    throw new HindsightError(
      'integrity',
      `backup header names unknown wrap kind ${code}: upgrade Hindsight, or the header is damaged`,
    );
  const refLength = bytes.readUInt8(at + 1);
  const keyRef = bytes.subarray(at + 2, at + 2 + refLength).toString('utf8');
  const wrappedLength = bytes.readUInt16BE(at + 2 + refLength);
  const start = at + 4 + refLength;
  return { kind, keyRef, wrapped: Buffer.from(bytes.subarray(start, start + wrappedLength)) };
}

function checkFields(header: BackupHeader): void {
  const expected =
    header.version === FORMAT_VERSION ? ALGORITHM_AES256GCM_WRAPPED_KEY : ALGORITHM_AES256GCM_HKDF_SHA256;
  if (header.algorithm !== expected) {
    throw new HindsightError('integrity', `backup uses unknown algorithm ${header.algorithm}`);
  }
  if (header.chunkSize < 1 || header.chunkSize > MAX_CHUNK_SIZE) {
    throw new HindsightError(
      'integrity',
      `backup header has an impossible chunk size ${header.chunkSize}: the header is damaged`,
    );
  }
}

/** Decodes a whole header (exactly `headerLength` bytes). */
export function decodeHeader(bytes: Buffer): BackupHeader {
  const length = headerLength(bytes);
  if (length === undefined || bytes.length < length) {
    throw new HindsightError('integrity', `backup is truncated: ${bytes.length} bytes, shorter than its header`);
  }
  const version = bytes.readUInt8(4) as FormatVersion;
  const common = { version, algorithm: bytes.readUInt8(5), chunkSize: bytes.readUInt32BE(6) };
  if (version === FORMAT_VERSION) {
    const bound = boundLengthV3(bytes)!;
    const wrappedKey = decodeWrappedKey(bytes, bound);
    const header: BackupHeader = { ...common, keyId: wrappedKey.keyRef, wrappedKey };
    checkFields(header);
    header.identity = decodeIdentity(bytes.subarray(COMMON_LENGTH + IDENTITY_LENGTH_BYTES, bound));
    return header;
  }
  const header: BackupHeader = {
    ...common,
    salt: Buffer.from(bytes.subarray(10, 42)),
    keyId: bytes.subarray(42, 50).toString('hex'),
  };
  checkFields(header);
  if (version === DERIVED_KEY_FORMAT_VERSION)
    header.identity = decodeIdentity(bytes.subarray(HEADER_PREFIX_LENGTH + IDENTITY_LENGTH_BYTES, length));
  return header;
}
