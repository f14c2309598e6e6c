import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { DecryptStream, EncryptStream, decodeHeader } from '../../lib/crypto/chunked-gcm.ts';
import { headerLength } from '../../lib/crypto/backup-header.ts';
import { logicalBackupIdentity } from '../../lib/crypto/object-identity.ts';
import { secretKeyFromBytes } from '../../lib/crypto/secret-key.ts';

const key = secretKeyFromBytes(randomBytes(32));
const chunkSize = 1024;
const identity = logicalBackupIdentity('orders', '20261123T103000Z-3f9a1c');

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

async function encrypt(plain: Buffer, size = chunkSize, pieces = 7): Promise<Buffer> {
  const enc = new EncryptStream(key, { identity, chunkSize: size });
  // Feed it in uneven pieces so chunk boundaries fall inside writes.
  const parts: Buffer[] = [];
  for (let i = 0; i < plain.length; i += pieces * 37) parts.push(plain.subarray(i, i + pieces * 37));
  const [out] = await Promise.all([collect(enc), pipeline(Readable.from(parts), enc)]);
  return out;
}

async function decrypt(data: Buffer, withKey = key): Promise<Buffer> {
  const dec = new DecryptStream(withKey);
  const [out] = await Promise.all([
    collect(dec),
    pipeline(Readable.from([data.subarray(0, 100), data.subarray(100)].filter((b) => b.length > 0)), dec),
  ]);
  return out;
}

/** Offsets of each chunk record, from the length prefixes. */
function recordOffsets(data: Buffer): number[] {
  const offsets: number[] = [];
  let at = headerLength(data)!;
  while (at < data.length) {
    offsets.push(at);
    at += 4 + 12 + data.readUInt32BE(at) + 16;
  }
  return offsets;
}

describe('chunked AES-256-GCM backup format', () => {
  for (const size of [0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3 * chunkSize, 10_000]) {
    it(`round-trips ${size} bytes`, async () => {
      const plain = randomBytes(size);
      const sealed = await encrypt(plain);
      assert.deepEqual(await decrypt(sealed), plain);
      assert.equal(sealed.subarray(0, 4).toString(), 'HSBK');
      assert.deepEqual(decodeHeader(sealed.subarray(0, headerLength(sealed))).identity, identity);
      assert.ok(
        !sealed.includes(plain.subarray(0, Math.min(16, size))) || size < 8,
        'ciphertext must not contain the plaintext',
      );
    });
  }

  it('rejects a flipped byte in a chunk, naming the chunk', async () => {
    const sealed = await encrypt(randomBytes(5000));
    const offsets = recordOffsets(sealed);
    const damaged = Buffer.from(sealed);
    damaged[offsets[2]! + 30]! ^= 0x01;
    await assert.rejects(decrypt(damaged), /chunk 2 failed authentication/);
  });

  it('rejects a flipped byte in the header', async () => {
    const sealed = await encrypt(randomBytes(3000));
    const damaged = Buffer.from(sealed);
    damaged[9]! ^= 0x01; // the chunk size: 1025, which only the wrapped key does not bind
    await assert.rejects(decrypt(damaged), /chunk 0 failed authentication/);
  });

  it('rejects a file truncated at a chunk boundary', async () => {
    const sealed = await encrypt(randomBytes(5000));
    const offsets = recordOffsets(sealed);
    await assert.rejects(
      decrypt(sealed.subarray(0, offsets[3]!)),
      /truncated: it ends after chunk 3 without the final chunk/,
    );
  });

  it('rejects a file truncated inside a chunk', async () => {
    const sealed = await encrypt(randomBytes(5000));
    await assert.rejects(decrypt(sealed.subarray(0, sealed.length - 5)), /truncated/);
  });

  it('rejects a file shorter than its header', async () => {
    await assert.rejects(decrypt(Buffer.from('HSBK')), /shorter than its header/);
  });

  it('rejects reordered chunks', async () => {
    const sealed = await encrypt(randomBytes(5000));
    const offsets = recordOffsets(sealed);
    const a = sealed.subarray(offsets[0]!, offsets[1]!);
    const b = sealed.subarray(offsets[1]!, offsets[2]!);
    const swapped = Buffer.concat([sealed.subarray(0, offsets[0]!), b, a, sealed.subarray(offsets[2]!)]);
    await assert.rejects(decrypt(swapped), /chunk 0 failed authentication/);
  });

  it('rejects bytes appended after the final chunk', async () => {
    const sealed = await encrypt(randomBytes(2000));
    await assert.rejects(
      decrypt(Buffer.concat([sealed, Buffer.from('extra')])),
      /unexpected bytes after its final chunk/,
    );
  });

  it('rejects a wrong key by its id, before decrypting anything', async () => {
    const sealed = await encrypt(randomBytes(2000));
    const other = secretKeyFromBytes(randomBytes(32));
    await assert.rejects(
      decrypt(sealed, other),
      new RegExp(`encrypted with key ${key.id}, but the key in use is ${other.id}`),
    );
  });

  it('rejects a file that is not a Hindsight backup', async () => {
    await assert.rejects(decrypt(randomBytes(200)), /not a Hindsight backup file/);
  });

  it('gives every file its own data key, so equal inputs encrypt differently', async () => {
    const plain = randomBytes(100);
    const [a, b] = [await encrypt(plain), await encrypt(plain)];
    const [headerA, headerB] = [decodeHeader(a), decodeHeader(b)];
    assert.notDeepEqual(headerA.wrappedKey?.wrapped, headerB.wrappedKey?.wrapped);
    assert.notDeepEqual(a.subarray(headerLength(a)! + 16), b.subarray(headerLength(b)! + 16));
  });
});
