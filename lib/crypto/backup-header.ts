import { HindsightError } from '../errors.ts';
import { MAX_IDENTITY_BYTES, decodeIdentity, encodeIdentity, type ObjectIdentity } from './object-identity.ts';

/**
 * The header of an encrypted object (docs/backup-format.md is the normative description):
 *
 *   version 1 (50 bytes):      magic "HSBK" ‖ version u8 = 1 ‖ algorithm u8 = 1 ‖ chunk size u32be ‖
 *                              salt (32) ‖ key id (8)
 *   version 2 (52 + n bytes):  the same 50 bytes with version = 2 ‖ identity length n u16be ‖
 *                              identity (n bytes of UTF-8 JSON, lib/crypto/object-identity.ts)
 *
 * The header has no tag of its own: it is the start of every chunk's associated data, so the
 * identity is authenticated by the first chunk, before any plaintext leaves the decrypter.
 */
export const MAGIC = Buffer.from('HSBK', 'ascii');
/** What Hindsight writes. */
export const FORMAT_VERSION = 2;
/** The first version, without identity: still read, never written. */
export const UNBOUND_FORMAT_VERSION = 1;
export const ALGORITHM_AES256GCM_HKDF_SHA256 = 1;
/** The part every version shares; a version 1 header is exactly this long. */
export const HEADER_PREFIX_LENGTH = 50;
const IDENTITY_LENGTH_BYTES = 2;
const MAX_CHUNK_SIZE = 64 * 1024 * 1024;

export interface BackupHeader {
  version: typeof FORMAT_VERSION | typeof UNBOUND_FORMAT_VERSION;
  algorithm: number;
  chunkSize: number;
  salt: Buffer;
  keyId: string;
  /** Version 2: what the object is. Version 1 binds no identity. */
  identity?: ObjectIdentity;
}

export function encodeHeader(header: BackupHeader): Buffer {
  const prefix = Buffer.alloc(HEADER_PREFIX_LENGTH);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt8(header.version, 4);
  prefix.writeUInt8(header.algorithm, 5);
  prefix.writeUInt32BE(header.chunkSize, 6);
  header.salt.copy(prefix, 10);
  Buffer.from(header.keyId, 'hex').copy(prefix, 42);
  if (header.version === UNBOUND_FORMAT_VERSION) return prefix;
  if (!header.identity) throw new HindsightError('bad_input', 'a version 2 header needs the object identity');
  const identity = encodeIdentity(header.identity);
  const length = Buffer.alloc(IDENTITY_LENGTH_BYTES);
  length.writeUInt16BE(identity.length, 0);
  return Buffer.concat([prefix, length, identity]);
}

function checkPrefix(bytes: Buffer): number {
  if (bytes.length < 5 || !bytes.subarray(0, 4).equals(MAGIC)) {
    throw new HindsightError(
      'integrity',
      'not a Hindsight backup file (bad magic): the file is not encrypted by Hindsight, or its first bytes are damaged',
    );
  }
  const version = bytes.readUInt8(4);
  if (version !== FORMAT_VERSION && version !== UNBOUND_FORMAT_VERSION) {
    throw new HindsightError(
      'integrity',
      `backup format version ${version} is not supported by this Hindsight (it reads versions ${UNBOUND_FORMAT_VERSION} and ${FORMAT_VERSION}): upgrade Hindsight`,
    );
  }
  return version;
}

/**
 * How long the header that starts with `bytes` is, or undefined while too few bytes are known to
 * tell. Throws as soon as the magic or version is wrong.
 */
export function headerLength(bytes: Buffer): number | undefined {
  if (bytes.length < 5) return undefined;
  const version = checkPrefix(bytes);
  if (version === UNBOUND_FORMAT_VERSION) return HEADER_PREFIX_LENGTH;
  if (bytes.length < HEADER_PREFIX_LENGTH + IDENTITY_LENGTH_BYTES) return undefined;
  const identityLength = bytes.readUInt16BE(HEADER_PREFIX_LENGTH);
  if (identityLength < 1 || identityLength > MAX_IDENTITY_BYTES) {
    throw new HindsightError(
      'integrity',
      `backup header claims a ${identityLength}-byte identity (1 … ${MAX_IDENTITY_BYTES}): the header is damaged`,
    );
  }
  return HEADER_PREFIX_LENGTH + IDENTITY_LENGTH_BYTES + identityLength;
}

/** Decodes a whole header (exactly `headerLength` bytes). */
export function decodeHeader(bytes: Buffer): BackupHeader {
  const length = headerLength(bytes);
  if (length === undefined || bytes.length < length) {
    throw new HindsightError('integrity', `backup is truncated: ${bytes.length} bytes, shorter than its header`);
  }
  const version = bytes.readUInt8(4) as BackupHeader['version'];
  const header: BackupHeader = {
    version,
    algorithm: bytes.readUInt8(5),
    chunkSize: bytes.readUInt32BE(6),
    salt: Buffer.from(bytes.subarray(10, 42)),
    keyId: bytes.subarray(42, 50).toString('hex'),
  };
  if (header.algorithm !== ALGORITHM_AES256GCM_HKDF_SHA256) {
    throw new HindsightError('integrity', `backup uses unknown algorithm ${header.algorithm}`);
  }
  if (header.chunkSize < 1 || header.chunkSize > MAX_CHUNK_SIZE) {
    throw new HindsightError(
      'integrity',
      `backup header has an impossible chunk size ${header.chunkSize}: the header is damaged`,
    );
  }
  if (version === FORMAT_VERSION)
    header.identity = decodeIdentity(bytes.subarray(HEADER_PREFIX_LENGTH + IDENTITY_LENGTH_BYTES, length));
  return header;
}
