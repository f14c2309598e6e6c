/**
 * What the WAL archiver's fault cases check of an archive (docs/reliability.md): nothing in storage
 * looks like a complete segment unless it decodes to one, a partial is recorded as partial, and the
 * complete segments run without a hole from a base backup to the newest one.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { WalSegmentRecord } from '../../lib/catalog/wal-objects.ts';
import { connect, type PgTarget } from '../../lib/pg/connection.ts';
import { createLocalStorage } from '../../lib/storage/local/driver.ts';
import { partialKey, segmentKey, walPrefix } from '../../lib/wal/archive-keys.ts';
import { isSegmentName } from '../../lib/wal/lsn.ts';
import { decodeWalObject } from '../../lib/wal/segment-codec.ts';
import type { Platform } from './platform.ts';

/** Hidden files a local write left behind in the WAL directory: uploads that never committed. */
export async function uncommittedWalWrites(platform: Platform, systemIdentifier: string): Promise<string[]> {
  const dir = path.join(platform.backupsDir, walPrefix(systemIdentifier));
  return (await readdir(dir)).filter((name) => name.startsWith('.') && name.includes('.partial-'));
}

/**
 * Every WAL object storage lists is what its name says: `<segment>.zst.hsb` decodes to a whole
 * segment with the catalog's checksum and a complete row; `<segment>.partial.zst.hsb` decodes to
 * less than a segment, and the catalog holds it as partial unless the complete one has replaced it.
 * Returns the catalog's segments, in order.
 */
export async function assertNothingLooksComplete(platform: Platform, database: string): Promise<WalSegmentRecord[]> {
  const config = await platform.runtime.catalog.wal.config(database);
  const sysid = config.systemIdentifier!;
  const segmentSize = config.walSegmentSize!;
  const driver = createLocalStorage({ name: 'local', root: platform.backupsDir });
  const scratch = path.join(platform.dir, 'decoded-wal');
  await mkdir(scratch, { recursive: true });
  const segments = await platform.runtime.catalog.wal.segmentsOf(database);
  const byName = new Map(segments.map((s) => [s.name, s]));
  const listed = await driver.list(`${walPrefix(sysid)}/`);
  assert.ok(listed.length > 0, 'the archive lists WAL objects');
  const keys = new Set(listed.map((o) => o.key));
  for (const row of segments.filter((s) => s.complete)) {
    assert.equal(row.objectKey, segmentKey(sysid, row.name), `complete segment ${row.name} is its segment object`);
    assert.equal(row.sizeBytes, segmentSize, `complete segment ${row.name} is recorded whole`);
    assert.ok(keys.has(row.objectKey), `storage holds complete segment ${row.name}`);
  }
  for (const { key } of listed) {
    assert.ok(!key.includes('.partial-'), `an uncommitted write is never listed (${key})`);
    const name = path.basename(key).slice(0, 24);
    if (!isSegmentName(name)) continue;
    const row = byName.get(name);
    const decoded = await decodeWalObject({
      driver,
      objectKey: key,
      key: platform.runtime.key,
      destination: path.join(scratch, path.basename(key)),
    });
    if (key === segmentKey(sysid, name)) {
      assert.equal(decoded.rawBytes, segmentSize, `${key} holds a whole segment`);
      assert.ok(row?.complete, `${key} is complete in the catalog`);
      assert.equal(decoded.rawSha256, row.sha256, `${key} decodes to what the catalog recorded`);
    } else {
      assert.equal(key, partialKey(sysid, name), `${key} is a segment or a partial, nothing else`);
      assert.ok(decoded.rawBytes < segmentSize, `${key} holds less than a segment`);
      if (!row?.complete) {
        assert.equal(row?.objectKey, key, `${key} is the partial the catalog points at`);
        await partialAsRecorded(platform, database, key, decoded.rawSha256, () =>
          decodeWalObject({
            driver,
            objectKey: key,
            key: platform.runtime.key,
            destination: path.join(scratch, 'again'),
          }),
        );
      }
    }
  }
  return segments;
}

/**
 * The archiver, still running, replaces a growing partial and then records it: the object may be a
 * step ahead of the catalog read before it. Read both again until they agree, or fail after 10 s.
 */
async function partialAsRecorded(
  platform: Platform,
  database: string,
  key: string,
  first: string,
  decodeAgain: () => Promise<{ rawSha256: string }>,
): Promise<void> {
  let seen = first;
  let recorded: string | undefined;
  for (const deadline = Date.now() + 10_000; ; seen = (await decodeAgain()).rawSha256) {
    const rows = await platform.runtime.catalog.wal.segmentsOf(database);
    recorded = rows.find((r) => r.objectKey === key)?.sha256;
    if (recorded === seen || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.equal(seen, recorded, `${key} decodes to what the catalog recorded`);
}

/** The complete segments from `fromSegno` on follow each other without a hole, and a partial (if any) comes last. */
export function assertContiguousFrom(segments: WalSegmentRecord[], fromSegno: bigint): void {
  const after = segments
    .filter((s) => s.timeline === 1 && s.segno >= fromSegno)
    .sort((a, b) => Number(a.segno - b.segno));
  assert.ok(after.length > 1, 'segments were archived after the start');
  after.forEach((s, i) => assert.equal(s.segno, fromSegno + BigInt(i), `segment ${s.name} follows without a hole`));
  after.slice(0, -1).forEach((s) => assert.ok(s.complete, `segment ${s.name} before the newest is complete`));
}

/** An ordered hash of the events with id up to `maxId` (all of them when absent). */
export async function eventsHash(target: PgTarget, maxId?: number): Promise<{ rows: number; md5: string }> {
  const client = await connect('fingerprint', target);
  try {
    const { rows } = await client.query<{ n: string; h: string }>(
      `select count(*)::text as n, md5(coalesce(string_agg(e::text, E'\\n' order by id), '')) as h
       from events e where $1::int is null or id <= $1`,
      [maxId ?? null],
    );
    return { rows: Number(rows[0]!.n), md5: rows[0]!.h };
  } finally {
    await client.end();
  }
}
