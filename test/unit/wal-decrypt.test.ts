import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { decryptCommand } from '../../cli/decrypt.ts';
import { useTempDir } from '../support/temp-dir.ts';
import { secretKeyFromBytes } from '../../lib/crypto/secret-key.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import { archiveObjectKind } from '../../lib/wal/archive-object-kind.ts';
import { walIndexKey, writeRecord, type WalIndex } from '../../lib/wal/archive-records.ts';
import { compressEncryptToStorage, encodeWalFile } from '../../lib/wal/segment-codec.ts';

const SYSID = '7312345678901234567';

describe('what a PITR object is, by its key', () => {
  const cases: Array<[string, string | undefined]> = [
    [`pitr/${SYSID}/wal/000000010000000000000003.zst.hsb`, 'segment'],
    [`pitr/${SYSID}/wal/000000010000000000000003.partial.zst.hsb`, 'partial'],
    [`pitr/${SYSID}/wal/00000002.history.zst.hsb`, 'history'],
    [`pitr/${SYSID}/base/20261207T030000Z-00aa11.tar.zst.hsb`, 'base-backup'],
    [`pitr/${SYSID}/base/20261207T030000Z-00aa11.manifest.zst.hsb`, 'backup-manifest'],
    [`pitr/${SYSID}/base/20261207T030000Z-00aa11.json.hsb`, 'base-backup-record'],
    [walIndexKey(SYSID, 1, '000000010000000000000001', '000000010000000000000010'), 'wal-index'],
    ['orders/20261207T030000Z-00aa11.dump.hsb', undefined],
    [`pitr/${SYSID}/wal/not-a-segment.zst.hsb`, undefined],
  ];
  for (const [key, kind] of cases)
    it(`${key} → ${kind ?? 'nothing'}`, () => assert.equal(archiveObjectKind(key), kind));
});

describe('hindsight decrypt on PITR objects (real zstd, real local storage)', () => {
  const tempDir = useTempDir('wal-decrypt-');
  const key = secretKeyFromBytes(randomBytes(32));
  const decrypt = async (objectKey: string) => {
    const dir = tempDir();
    const out = path.join(dir, `${path.basename(objectKey)}.out`);
    await decryptCommand(path.join(dir, 'store', objectKey), { key, output: out, json: true });
    return readFile(out);
  };

  it('writes a WAL segment and a base backup decompressed, byte for byte', async () => {
    const dir = tempDir();
    const driver = createLocalStorage({ name: 't', root: path.join(dir, 'store') });
    const segment = Buffer.concat([Buffer.alloc(1 << 19, 'wal'), randomBytes(1 << 19)]);
    await writeFile(path.join(dir, 'segment'), segment);
    const segmentKey = `pitr/${SYSID}/wal/000000010000000000000003.zst.hsb`;
    await encodeWalFile({ file: path.join(dir, 'segment'), driver, objectKey: segmentKey, key });
    assert.ok((await decrypt(segmentKey)).equals(segment));

    const tar = Buffer.concat([Buffer.alloc(300, 't'), randomBytes(5000)]);
    const baseKey = `pitr/${SYSID}/base/20261207T030000Z-00aa11.tar.zst.hsb`;
    await compressEncryptToStorage({ source: Readable.from([tar]), driver, objectKey: baseKey, key, level: 5 });
    assert.ok((await decrypt(baseKey)).equals(tar));
  });

  it('writes an archive record as its JSON, and leaves an object of no PITR kind as stored', async () => {
    const dir = tempDir();
    const driver = createLocalStorage({ name: 't', root: path.join(dir, 'store') });
    const index: WalIndex = {
      format: 'hindsight-wal-index',
      formatVersion: 1,
      database: 'shop',
      systemIdentifier: SYSID,
      timeline: 1,
      walSegmentSizeBytes: 16 * 1024 * 1024,
      segments: [
        {
          name: '000000010000000000000001',
          startLsn: '0/1000000',
          endLsn: '0/2000000',
          sizeBytes: 16 * 1024 * 1024,
          sha256: 'b'.repeat(64),
          storedBytes: 123,
          objectKey: `pitr/${SYSID}/wal/000000010000000000000001.zst.hsb`,
          receivedAt: '2026-12-07T03:00:00.000Z',
        },
      ],
    };
    const indexKey = walIndexKey(SYSID, 1, '000000010000000000000001', '000000010000000000000001');
    await writeRecord(driver, indexKey, index, key);
    assert.deepEqual(JSON.parse((await decrypt(indexKey)).toString('utf8')), index);

    // A compressed object under a key that names no zstd object stays compressed: the key decides.
    const otherKey = `pitr/${SYSID}/wal/notes.zst.hsb`;
    await compressEncryptToStorage({
      source: Readable.from([Buffer.from('x')]),
      driver,
      objectKey: otherKey,
      key,
      level: 3,
    });
    assert.equal((await decrypt(otherKey)).readUInt32LE(0), 0xfd2fb528);
  });
});
