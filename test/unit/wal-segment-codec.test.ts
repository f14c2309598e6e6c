import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { secretKeyFromBytes } from '../../lib/crypto/secret-key.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import { decodeWalObject, encodeWalFile } from '../../lib/wal/segment-codec.ts';

describe('WAL segment codec (real zstd, real local storage)', () => {
  let dir: string;
  const key = secretKeyFromBytes(randomBytes(32));
  const size = 1 << 20;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wal-codec-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips a segment byte for byte and stores it compressed and encrypted', async () => {
    const driver = createLocalStorage({ name: 't', root: path.join(dir, 'store') });
    // Half repetitive, half random: like WAL, it compresses but not to nothing.
    const content = Buffer.concat([Buffer.alloc(size / 2, 'abcdefgh'), randomBytes(size / 2)]);
    await writeFile(path.join(dir, 'seg'), content);
    const stored = await encodeWalFile({ file: path.join(dir, 'seg'), driver, objectKey: 'pitr/1/wal/x.zst.hsb', key });
    assert.equal(stored.rawBytes, size);
    assert.ok(stored.storedBytes < size * 0.6, `compressed to ${stored.storedBytes}`);
    const object = await readFile(path.join(dir, 'store', 'pitr/1/wal/x.zst.hsb'));
    assert.equal(object.subarray(0, 4).toString(), 'HSBK');
    assert.equal(object.indexOf(content.subarray(size / 2, size / 2 + 64)), -1, 'plaintext is not in the object');

    await decodeWalObject({
      driver,
      objectKey: 'pitr/1/wal/x.zst.hsb',
      key,
      destination: path.join(dir, 'out'),
      expectedSha256: stored.rawSha256,
    });
    assert.ok((await readFile(path.join(dir, 'out'))).equals(content));
  });

  it('stores only the valid bytes of a partial and pads them back to a full segment on request', async () => {
    const driver = createLocalStorage({ name: 't', root: path.join(dir, 'store') });
    const valid = 123_457;
    const content = Buffer.concat([randomBytes(valid), Buffer.alloc(size - valid)]);
    await writeFile(path.join(dir, 'p'), content);
    const stored = await encodeWalFile({
      file: path.join(dir, 'p'),
      validBytes: valid,
      driver,
      objectKey: 'p.zst.hsb',
      key,
    });
    assert.equal(stored.rawBytes, valid);
    await decodeWalObject({ driver, objectKey: 'p.zst.hsb', key, destination: path.join(dir, 'p-raw') });
    assert.ok((await readFile(path.join(dir, 'p-raw'))).equals(content.subarray(0, valid)));
    await decodeWalObject({
      driver,
      objectKey: 'p.zst.hsb',
      key,
      destination: path.join(dir, 'p-full'),
      padToSize: size,
    });
    assert.ok((await readFile(path.join(dir, 'p-full'))).equals(content));
  });

  it('fails loudly on a wrong key, a corrupted object or a checksum mismatch, leaving no file', async () => {
    const driver = createLocalStorage({ name: 't', root: path.join(dir, 'store') });
    await writeFile(path.join(dir, 'c'), randomBytes(4096));
    const stored = await encodeWalFile({ file: path.join(dir, 'c'), driver, objectKey: 'c.zst.hsb', key });
    const dest = path.join(dir, 'c-out');
    await assert.rejects(
      decodeWalObject({ driver, objectKey: 'c.zst.hsb', key: secretKeyFromBytes(randomBytes(32)), destination: dest }),
    );
    await assert.rejects(
      decodeWalObject({ driver, objectKey: 'c.zst.hsb', key, destination: dest, expectedSha256: '0'.repeat(64) }),
      /SHA-256/,
    );
    const objectFile = path.join(dir, 'store', 'c.zst.hsb');
    const bytes = await readFile(objectFile);
    bytes[bytes.length - 20]! ^= 1;
    await writeFile(objectFile, bytes);
    await assert.rejects(decodeWalObject({ driver, objectKey: 'c.zst.hsb', key, destination: dest }));
    await assert.rejects(readFile(dest), /ENOENT/);
    assert.equal(stored.rawBytes, 4096);
    await assert.rejects(
      decodeWalObject({ driver, objectKey: 'missing.zst.hsb', key, destination: dest }),
      /not_found|does not exist|missing/i,
    );
  });

  it('refuses a segment copied over the name of another segment, before PostgreSQL could see it', async () => {
    const driver = createLocalStorage({ name: 't', root: path.join(dir, 'store') });
    const [three, four] = [
      'pitr/7312/wal/000000010000000000000003.zst.hsb',
      'pitr/7312/wal/000000010000000000000004.zst.hsb',
    ];
    await writeFile(path.join(dir, 'seg3'), randomBytes(8192));
    await encodeWalFile({ file: path.join(dir, 'seg3'), driver, objectKey: three, key });
    await copyFile(path.join(dir, 'store', three), path.join(dir, 'store', four));
    const dest = path.join(dir, 'seg4-out');
    await assert.rejects(
      decodeWalObject({ driver, objectKey: four, key, destination: dest }),
      /object pitr\/7312\/wal\/000000010000000000000004\.zst\.hsb authenticates as PITR object pitr\/7312\/wal\/000000010000000000000003\.zst\.hsb, expected PITR object pitr\/7312\/wal\/000000010000000000000004\.zst\.hsb/,
    );
    await assert.rejects(readFile(dest), /ENOENT/);
    await decodeWalObject({ driver, objectKey: three, key, destination: dest });
  });
});
