import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { useTempDir } from '../support/temp-dir.ts';
import { secretKeyFromBytes } from '../../lib/crypto/secret-key.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import { baseBackupRecordKey, baseBackupRecordSchema, readRecord } from '../../lib/wal/archive-records.ts';
import {
  baseBackupRecordOf,
  writeBaseBackupRecord,
  type BaseBackupRecordInput,
} from '../../lib/wal/base-backup-record.ts';
import { parseLsn } from '../../lib/wal/lsn.ts';

const SYSID = '7312345678901234567';
const hex = (c: string) => c.repeat(64);

function input(id: string, parentId: string | null): BaseBackupRecordInput {
  return {
    database: 'shop',
    baseBackupId: id,
    server: { systemIdentifier: SYSID, versionNum: 170002, walSegmentSize: 16 * 1024 * 1024 },
    source: 'standby',
    kind: parentId ? 'incremental' : 'full',
    parentId,
    objectKey: `pitr/${SYSID}/base/${id}.tar.zst.hsb`,
    result: {
      startLsn: parseLsn('0/2000028'),
      stopLsn: parseLsn('1/A0000138'),
      timeline: 3,
      startTime: new Date('2026-12-07T03:00:00.000Z'),
      stopTime: new Date('2026-12-07T03:01:30.500Z'),
      sizeBytes: 40_000_000,
      sha256: hex('1'),
      storedBytes: 9_000_000,
      storedSha256: hex('2'),
      toolVersion: '17.2',
      manifest: {
        objectKey: `pitr/${SYSID}/base/${id}.manifest.zst.hsb`,
        storedBytes: 4000,
        sha256: hex('3'),
        storedSha256: hex('4'),
      },
    },
  };
}

describe('base-backup records', () => {
  const tempDir = useTempDir('archive-records-');

  it('hold the positions, the kind and parent, and the stored objects by their stored bytes', () => {
    const record = baseBackupRecordSchema.parse(baseBackupRecordOf(input('20261207T030000Z-00aa11', 'parent-1')));
    assert.equal(record.startLsn, '0/2000028');
    assert.equal(record.stopLsn, '1/A0000138');
    assert.equal(record.timeline, 3);
    assert.equal(record.finishedAt, '2026-12-07T03:01:30.500Z');
    assert.equal(record.serverVersionNum, 170002);
    assert.equal(record.takenFrom, 'standby');
    assert.deepEqual([record.kind, record.parentId], ['incremental', 'parent-1']);
    assert.deepEqual(record.tar, { sizeBytes: 40_000_000, sha256: hex('1') });
    assert.deepEqual(record.object, {
      key: `pitr/${SYSID}/base/20261207T030000Z-00aa11.tar.zst.hsb`,
      sizeBytes: 9_000_000,
      sha256: hex('2'),
    });
    assert.deepEqual(record.backupManifest, {
      key: `pitr/${SYSID}/base/20261207T030000Z-00aa11.manifest.zst.hsb`,
      sizeBytes: 4000,
      sha256: hex('4'),
    });
  });

  it('are sealed beside the backup, read back with the key, and refused under another backup’s name', async () => {
    const dir = tempDir();
    const driver = createLocalStorage({ name: 't', root: dir });
    const key = secretKeyFromBytes(randomBytes(32));
    const id = '20261207T030000Z-00aa11';
    const written = await writeBaseBackupRecord(driver, key, input(id, null));
    assert.equal(written, `pitr/${SYSID}/base/${id}.json.hsb`);
    const stored = await readFile(path.join(dir, written));
    assert.equal(stored.subarray(0, 4).toString(), 'HSBK');
    assert.equal(stored.indexOf('1/A0000138'), -1, 'the record is encrypted');
    const back = await readRecord(driver, written, key, baseBackupRecordSchema);
    assert.deepEqual(back, baseBackupRecordOf(input(id, null)));

    const other = baseBackupRecordKey(SYSID, '20261208T030000Z-00bb22');
    await mkdir(path.dirname(path.join(dir, other)), { recursive: true });
    await copyFile(path.join(dir, written), path.join(dir, other));
    await assert.rejects(readRecord(driver, other, key, baseBackupRecordSchema), /replaced or copied|expected/);
    await assert.rejects(
      readRecord(driver, written, secretKeyFromBytes(randomBytes(32)), baseBackupRecordSchema),
      /key/,
    );
  });
});
