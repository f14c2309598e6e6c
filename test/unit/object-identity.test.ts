import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { decodeHeader, encodeHeader, headerLength } from '../../lib/crypto/backup-header.ts';
import {
  DecryptStream,
  EncryptStream,
  type BackupHeader,
  type DecryptOptions,
  type KeyResolver,
} from '../../lib/crypto/chunked-gcm.ts';
import {
  encodeIdentity,
  identityForObjectKey,
  logicalBackupIdentity,
  pitrObjectIdentity,
  type ObjectIdentity,
} from '../../lib/crypto/object-identity.ts';
import { parseSecretKeyFile, secretKeyFromBytes, type SecretKey } from '../../lib/crypto/secret-key.ts';

const key = secretKeyFromBytes(randomBytes(32));
const orders1 = logicalBackupIdentity('orders', '20261123T103000Z-3f9a1c');
const orders2 = logicalBackupIdentity('orders', '20261124T103000Z-0b1d2e');
const fixtureDir = path.join(import.meta.dirname, '..', 'fixtures', 'format-v1');

async function encrypt(plain: Buffer, identity: ObjectIdentity): Promise<Buffer> {
  const enc = new EncryptStream(key, { identity, chunkSize: 1024 });
  const parts: Buffer[] = [];
  enc.on('data', (part: Buffer) => parts.push(part));
  await pipeline(Readable.from([plain]), enc);
  return Buffer.concat(parts);
}

/** Decrypts, returning the plaintext and how many bytes came out before any failure. */
async function decrypt(
  data: Buffer,
  options: DecryptOptions,
  withKey: SecretKey | KeyResolver = key,
): Promise<{ plain?: Buffer; error?: Error; released: number }> {
  const dec = new DecryptStream(withKey, options);
  const parts: Buffer[] = [];
  dec.on('data', (part: Buffer) => parts.push(part));
  try {
    // Byte by byte at the start, so that the header check meets every split of the header.
    const pieces = [...Array.from({ length: 80 }, (_, i) => data.subarray(i, i + 1)), data.subarray(80)];
    await pipeline(Readable.from(pieces), dec);
    return { plain: Buffer.concat(parts), released: Buffer.concat(parts).length };
  } catch (error) {
    return { error: error as Error, released: Buffer.concat(parts).length };
  }
}

/** The same object with its header's identity replaced (length field adjusted), chunks untouched. */
function withForgedIdentity(sealed: Buffer, identity: ObjectIdentity): Buffer {
  const forged = encodeIdentity(identity);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(forged.length);
  const header = decodeHeader(sealed.subarray(0, headerLength(sealed)));
  const rest = encodeHeader({ ...header, identity }).subarray(V3_IDENTITY_AT + 2 + forged.length);
  return Buffer.concat([
    sealed.subarray(0, V3_IDENTITY_AT),
    length,
    forged,
    rest,
    sealed.subarray(headerLength(sealed)),
  ]);
}

/** Where a version 3 header's identity length is: after magic, version, algorithm and chunk size. */
const V3_IDENTITY_AT = 10;

describe('object identity in the encrypted format (version 3)', () => {
  it('decrypts an object that carries the expected identity, and reports it', async () => {
    const plain = randomBytes(5000);
    let seen: BackupHeader | undefined;
    const result = await decrypt(await encrypt(plain, orders1), {
      expect: orders1,
      onHeader: (h) => {
        seen = h;
      },
    });
    assert.deepEqual(result.plain, plain);
    assert.equal(seen?.version, 3);
    assert.deepEqual(seen?.identity, orders1);
  });

  it('refuses another backup of the same database, naming both, before any plaintext', async () => {
    const result = await decrypt(await encrypt(randomBytes(5000), orders1), {
      expect: orders2,
      objectName: 'orders/20261124T103000Z-0b1d2e.dump.hsb',
    });
    assert.match(
      result.error?.message ?? '',
      /object orders\/20261124T103000Z-0b1d2e\.dump\.hsb authenticates as backup 20261123T103000Z-3f9a1c of database orders, expected backup 20261124T103000Z-0b1d2e of database orders: the object was replaced or copied in storage/,
    );
    assert.equal(result.released, 0);
  });

  it('refuses a backup of another database with the same backup id', async () => {
    const result = await decrypt(await encrypt(randomBytes(100), orders1), {
      expect: logicalBackupIdentity('billing', orders1.backupId),
    });
    assert.match(
      result.error?.message ?? '',
      /as backup 20261123T103000Z-3f9a1c of database orders, expected backup 20261123T103000Z-3f9a1c of database billing/,
    );
    assert.equal(result.released, 0);
  });

  it('refuses a PITR object copied over another segment', async () => {
    const sealed = await encrypt(
      randomBytes(100),
      pitrObjectIdentity('pitr/7312/wal/000000010000000000000003.zst.hsb'),
    );
    const result = await decrypt(sealed, {
      expect: pitrObjectIdentity('pitr/7312/wal/000000010000000000000004.zst.hsb'),
      acceptUnbound: true,
    });
    assert.match(
      result.error?.message ?? '',
      /authenticates as PITR object pitr\/7312\/wal\/000000010000000000000003\.zst\.hsb, expected PITR object pitr\/7312\/wal\/000000010000000000000004/,
    );
  });

  it('fails authentication when the header identity is rewritten to the expected one', async () => {
    const forged = withForgedIdentity(await encrypt(randomBytes(5000), orders1), orders2);
    const result = await decrypt(forged, { expect: orders2 });
    // The wrapped data key is bound to the identity: it no longer unwraps.
    assert.match(result.error?.message ?? '', /data key wrapped with secret key \w+ failed authentication/);
    assert.equal(result.released, 0);
  });

  it('fails authentication when the header is swapped for an older version with the same identity', async () => {
    const sealed = await encrypt(randomBytes(3000), orders1);
    const older = encodeHeader({
      version: 2,
      algorithm: 1,
      chunkSize: 1024,
      salt: randomBytes(32),
      keyId: key.id,
      identity: orders1,
    });
    const downgraded = Buffer.concat([older, sealed.subarray(headerLength(sealed))]);
    const result = await decrypt(downgraded, { expect: orders1, acceptUnbound: true });
    assert.match(result.error?.message ?? '', /chunk 0 failed authentication/);
    assert.equal(result.released, 0);
  });

  it('refuses a header whose identity is not an identity', async () => {
    const sealed = await encrypt(randomBytes(10), orders1);
    const bad = Buffer.from(sealed);
    bad.write('[', V3_IDENTITY_AT + 2);
    assert.match((await decrypt(bad, {})).error?.message ?? '', /identity that is not JSON/);
  });

  it('resolves the key by the id in the header (a keyring)', async () => {
    const sealed = await encrypt(randomBytes(2000), orders1);
    const asked: string[] = [];
    const other = secretKeyFromBytes(randomBytes(32));
    const ring = new Map([
      [key.id, key],
      [other.id, other],
    ]);
    const resolver: KeyResolver = (id) => {
      asked.push(id);
      const found = ring.get(id);
      if (!found) throw new Error(`no key ${id}`);
      return found;
    };
    assert.equal((await decrypt(sealed, { expect: orders1 }, resolver)).released, 2000);
    assert.deepEqual(asked, [key.id]);
    assert.match(
      (await decrypt(sealed, {}, () => other)).error?.message ?? '',
      new RegExp(`encrypted with key ${key.id}, but the key in use is ${other.id}`),
    );
  });

  it('maps storage keys to the identity their object must carry', () => {
    assert.deepEqual(identityForObjectKey('orders/20261123T103000Z-3f9a1c.dump.hsb'), orders1);
    assert.deepEqual(identityForObjectKey('orders/20261123T103000Z-3f9a1c'), orders1);
    assert.deepEqual(
      identityForObjectKey('pitr/7312/base/bb-1.tar.zst.hsb'),
      pitrObjectIdentity('pitr/7312/base/bb-1.tar.zst.hsb'),
    );
    assert.throws(() => identityForObjectKey('orders/latest'), /names no Hindsight object/);
  });
});

describe('version 1 objects (no identity) stay readable', () => {
  const v1Key = parseSecretKeyFile(readFileSync(path.join(fixtureDir, 'throwaway-test-key.hex'), 'utf8'), 'fixture');
  const v1Object = readFileSync(path.join(fixtureDir, 'object.hsb'));
  const v1Plain = readFileSync(path.join(fixtureDir, 'plain.txt'));

  it('decrypts the version 1 fixture to its plaintext', async () => {
    assert.equal(v1Object[4], 1, 'the fixture is a version 1 object');
    let seen: BackupHeader | undefined;
    const result = await decrypt(
      v1Object,
      {
        onHeader: (h) => {
          seen = h;
        },
      },
      v1Key,
    );
    assert.equal(
      createHash('sha256')
        .update(result.plain ?? '')
        .digest('hex'),
      createHash('sha256').update(v1Plain).digest('hex'),
    );
    assert.equal(seen?.version, 1);
    assert.equal(seen?.identity, undefined);
  });

  it('accepts it for an expected identity only where a recorded checksum vouches for it', async () => {
    const vouched = await decrypt(v1Object, { expect: orders1, acceptUnbound: true }, v1Key);
    assert.deepEqual(vouched.plain, v1Plain);
    const alone = await decrypt(v1Object, { expect: orders1 }, v1Key);
    assert.match(
      alone.error?.message ?? '',
      /format version 1, which carries no identity, so it cannot be proven to be backup 20261123T103000Z-3f9a1c of database orders/,
    );
    assert.equal(alone.released, 0);
  });

  it('still detects a damaged version 1 chunk', async () => {
    const damaged = Buffer.from(v1Object);
    damaged[damaged.length - 3]! ^= 0x01;
    assert.match((await decrypt(damaged, {}, v1Key)).error?.message ?? '', /chunk 2 failed authentication/);
  });
});
