import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { useTempDir } from '../support/temp-dir.ts';
import { secretKeyFromBytes } from '../../lib/crypto/secret-key.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import {
  readRecord,
  walIndexPrefix,
  walIndexSchema,
  writeRecord,
  type WalIndex,
} from '../../lib/wal/archive-records.ts';
import { segmentName, segmentStartLsn } from '../../lib/wal/lsn.ts';
import { indexedSegment, WalIndexBatcher, type IndexedSegment } from '../../lib/wal/receiver/index-batches.ts';

const SIZE = 16 * 1024 * 1024;
const SYSID = '7312345678901234567';

function segment(segno: number, timeline = 1, systemIdentifier = SYSID): IndexedSegment {
  const n = BigInt(segno);
  const name = segmentName(timeline, n, SIZE);
  return indexedSegment(
    {
      systemIdentifier,
      timeline,
      segno: n,
      name,
      startLsn: segmentStartLsn(n, SIZE),
      endLsn: segmentStartLsn(n + 1n, SIZE),
      sizeBytes: SIZE,
      sha256: 'a'.repeat(64),
      storedBytes: 1000 + segno,
      objectKey: `pitr/${systemIdentifier}/wal/${name}.zst.hsb`,
      receivedAt: new Date(Date.UTC(2026, 11, 7, 3, 0, segno)),
    },
    SIZE,
  );
}

/** A batcher over a fake clock that keeps what it writes (or fails while `failing`). */
function harness() {
  const clock = { now: 1_000_000 };
  const written: Array<{ objectKey: string; index: WalIndex }> = [];
  const errors: Array<{ objectKey: string; givenUp: boolean }> = [];
  const state = { failing: false };
  const batcher = new WalIndexBatcher({
    database: 'shop',
    now: () => clock.now,
    write: async (objectKey, index) => {
      if (state.failing) throw new Error('storage is down');
      written.push({ objectKey, index: walIndexSchema.parse(index) });
    },
    onError: (_error, batch) => errors.push({ objectKey: batch.objectKey, givenUp: batch.givenUp }),
  });
  const names = () => written.map((w) => w.index.segments.map((s) => s.name.slice(-2)).join(','));
  return { clock, written, errors, state, batcher, names };
}

describe('WAL index batches', () => {
  it('writes a batch of 16 consecutive segments as soon as the 16th is archived, named by its first and last', async () => {
    const h = harness();
    for (let i = 1; i <= 15; i++) await h.batcher.add(segment(i));
    assert.equal(h.written.length, 0, 'nothing is written before 16 segments wait');
    await h.batcher.add(segment(16));
    assert.equal(h.written.length, 1);
    const { objectKey, index } = h.written[0]!;
    assert.equal(
      objectKey,
      `pitr/${SYSID}/wal-index/00000001/000000010000000000000001-000000010000000000000010.json.hsb`,
    );
    assert.deepEqual(
      index.segments.map((s) => s.name),
      Array.from({ length: 16 }, (_, i) => segmentName(1, BigInt(i + 1), SIZE)),
    );
    assert.equal(index.timeline, 1);
    assert.equal(index.walSegmentSizeBytes, SIZE);
    assert.equal(index.segments[0]!.startLsn, '0/1000000');
    assert.equal(index.segments[0]!.endLsn, '0/2000000');
    assert.equal(h.batcher.waiting, 0);
  });

  it('writes the waiting segments once the oldest is 60 s old, not before', async () => {
    const h = harness();
    await h.batcher.add(segment(1));
    h.clock.now += 30_000;
    await h.batcher.add(segment(2));
    h.clock.now += 29_999;
    await h.batcher.flushDue();
    assert.equal(h.written.length, 0, 'the oldest segment is 59.999 s old');
    h.clock.now += 1;
    await h.batcher.flushDue();
    assert.deepEqual(h.names(), ['01,02']);
  });

  it('starts a new batch at a gap, a repeat and a timeline change; never mixes them in one batch', async () => {
    const h = harness();
    for (const s of [segment(1), segment(2), segment(4), segment(4), segment(5), segment(5, 2), segment(6, 2)])
      await h.batcher.add(s);
    await h.batcher.flushAll();
    assert.deepEqual(h.names(), ['01,02', '04', '04,05', '05,06']);
    assert.deepEqual(
      h.written.map((w) => w.index.timeline),
      [1, 1, 1, 2],
    );
    assert.match(h.written[3]!.objectKey, /\/wal-index\/00000002\/000000020000000000000005-000000020000000000000006/);
  });

  it('keeps another cluster out of a batch', async () => {
    const h = harness();
    await h.batcher.add(segment(1));
    await h.batcher.add(segment(2, 1, '42'));
    await h.batcher.flushAll();
    assert.deepEqual(
      h.written.map((w) => w.index.systemIdentifier),
      [SYSID, '42'],
    );
  });
});

describe('WAL index batches when the archiver stops or storage fails', () => {
  it('writes everything waiting when the archiver stops, and nothing twice', async () => {
    const h = harness();
    for (let i = 1; i <= 20; i++) await h.batcher.add(segment(i));
    await h.batcher.flushAll();
    await h.batcher.flushAll();
    assert.deepEqual(
      h.written.map((w) => w.index.segments.length),
      [16, 4],
    );
  });

  it('retries a batch storage refused, after a pause, and gives it up only when the archiver stops', async () => {
    const h = harness();
    h.state.failing = true;
    for (let i = 1; i <= 16; i++) await h.batcher.add(segment(i));
    assert.equal(h.errors.length, 1);
    assert.equal(h.errors[0]!.givenUp, false);
    await h.batcher.flushDue();
    assert.equal(h.errors.length, 1, 'not retried at once');
    h.state.failing = false;
    h.clock.now += 10_000;
    await h.batcher.flushDue();
    assert.deepEqual(
      h.written.map((w) => w.index.segments.length),
      [16],
    );

    h.state.failing = true;
    await h.batcher.add(segment(17));
    await h.batcher.flushAll();
    assert.deepEqual(h.errors.at(-1), {
      objectKey: `pitr/${SYSID}/wal-index/00000001/000000010000000000000011-000000010000000000000011.json.hsb`,
      givenUp: true,
    });
    assert.equal(h.batcher.waiting, 0);
  });
});

describe('WAL index batches in real storage', () => {
  const tempDir = useTempDir('wal-index-');

  it('seals each batch under its key; a listing of the prefix finds them in WAL order and they read back', async () => {
    const dir = tempDir();
    const driver = createLocalStorage({ name: 't', root: dir });
    const key = secretKeyFromBytes(randomBytes(32));
    const batcher = new WalIndexBatcher({
      database: 'shop',
      write: (objectKey, index) => writeRecord(driver, objectKey, index, key),
    });
    for (let i = 1; i <= 18; i++) await batcher.add(segment(i));
    await batcher.flushAll();
    const listed = await driver.list(walIndexPrefix(SYSID, 1));
    assert.equal(listed.length, 2);
    const batches = await Promise.all(listed.map((o) => readRecord(driver, o.key, key, walIndexSchema)));
    assert.deepEqual(
      batches.flatMap((b) => b.segments.map((s) => s.name)),
      Array.from({ length: 18 }, (_, i) => segmentName(1, BigInt(i + 1), SIZE)),
    );
    assert.equal(batches[1]!.segments[1]!.objectKey, `pitr/${SYSID}/wal/000000010000000000000012.zst.hsb`);
  });
});
