/**
 * The rule a catalog restore's resync adds to the rebuild's writes: a partial segment that storage
 * holds further than its row replaces the row, and nothing else does. The partial is written twice
 * to one key with the real writer (as the receiver overwrites it), read back by the rebuild's reader.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { planRebuild, type SegmentRow } from '../../lib/catalog/rebuild/plan.ts';
import { readArchive } from '../../lib/catalog/rebuild/read-pitr.ts';
import { newerPartials, type PartialState } from '../../lib/catalog/rebuild/resync.ts';
import type { Unreadable } from '../../lib/catalog/rebuild/findings.ts';
import { secretKeyFromBytes } from '../../lib/crypto/secret-key.ts';
import type { StorageDriver } from '../../lib/storage/contract.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import { partialKey, segmentKey } from '../../lib/wal/archive-keys.ts';
import { encodeWalFile } from '../../lib/wal/segment-codec.ts';

const SYSID = '7312345678901234568';
const SEGMENT = 1 << 20;
const segName = (n: number) => `0000000100000000${n.toString(16).toUpperCase().padStart(8, '0')}`;
const start = (segno: number) => BigInt(segno * SEGMENT);

describe('a newer partial in storage replaces its row (real local storage)', () => {
  let dir: string;
  let driver: StorageDriver;
  const key = secretKeyFromBytes(randomBytes(32));

  const putWal = async (objectKey: string, bytes: number) => {
    const file = path.join(dir, `in-${bytes}`);
    await writeFile(file, randomBytes(bytes));
    return encodeWalFile({ file, driver, objectKey, key });
  };

  /** The segment rows the rebuild's reader and planner make of the storage as it is now. */
  const found = async (): Promise<SegmentRow[]> => {
    const listing = await driver.list(`pitr/${SYSID}`);
    const unreadable: Unreadable[] = [];
    const sizes = new Map(listing.map((o) => [o.key, o.size]));
    const archive = await readArchive({ driver, key, listing, sizes, unreadable }, SYSID);
    assert.deepEqual(unreadable, []);
    const plan = planRebuild(
      { storage: 'bucket', backups: [], archives: [{ ...archive, database: 'ledger' }], unreadable },
      new Set(['ledger']),
      new Set(),
    );
    return plan.archives.flatMap((a) => a.segmentGroups.flat());
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hindsight-resync-'));
    driver = createLocalStorage({ name: 'bucket', root: path.join(dir, 'bucket') });
    await putWal(segmentKey(SYSID, segName(3)), SEGMENT);
  });

  after(() => rm(dir, { recursive: true, force: true }));

  it('replaces a partial row with the partial storage holds further, with its size, hash and end', async () => {
    await putWal(partialKey(SYSID, segName(4)), 5000);
    const [, before] = await found();
    assert.equal(before!.endLsn, start(4) + 5000n);
    const row: PartialState = { timeline: 1, segno: 4n, complete: false, endLsn: before!.endLsn };
    assert.deepEqual(newerPartials([row], [before!]), [], 'the same partial again changes nothing');

    // The old host went on: the same key now holds a longer partial.
    await putWal(partialKey(SYSID, segName(4)), 9000);
    const rows = await found();
    const newer = newerPartials([row], rows);
    assert.equal(newer.length, 1);
    const stored = await driver.stat(partialKey(SYSID, segName(4)));
    assert.equal(newer[0]!.endLsn, start(4) + 9000n);
    assert.equal(newer[0]!.sizeBytes, 9000);
    assert.equal(newer[0]!.storedBytes, stored!.size, 'the row takes the size of the object now in storage');
    assert.notEqual(newer[0]!.sha256, before!.sha256);
    assert.equal(newer[0]!.complete, false);
  });

  it('leaves a complete row, a row further on than storage, and segments the catalog has no row for', async () => {
    const rows = await found();
    const partial = rows.find((s) => !s.complete)!;
    const complete = rows.find((s) => s.complete)!;
    const held: PartialState[] = [
      { timeline: 1, segno: complete.segno, complete: true, endLsn: complete.endLsn },
      { timeline: 1, segno: partial.segno, complete: false, endLsn: partial.endLsn + 1n },
    ];
    assert.deepEqual(newerPartials(held, rows), []);
    assert.deepEqual(newerPartials([], rows), [], 'a new row is the rebuild writes’ to add, not a replacement');
    const otherTimeline: PartialState = { timeline: 2, segno: partial.segno, complete: false, endLsn: 0n };
    assert.deepEqual(newerPartials([otherTimeline], rows), []);
  });
});
