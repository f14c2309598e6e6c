import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  formatHistoryFile,
  formatLsn,
  historyFileName,
  isPartialName,
  parseHistoryFile,
  parseHistoryFileName,
  parseLsn,
  parseSegmentName,
  parseSegmentSizeSetting,
  segmentBefore,
  segmentEndLsn,
  segmentName,
  segmentNameOfLsn,
  segmentOf,
  segmentOffset,
  segmentStartLsn,
  segmentsPerXLogId,
} from '../../lib/wal/lsn.ts';

const MiB = 1 << 20;
const sizes = [1 * MiB, 2 * MiB, 16 * MiB, 64 * MiB, 256 * MiB, 1024 * MiB];

describe('LSN text', () => {
  it('parses and formats the way PostgreSQL prints pg_lsn', () => {
    assert.equal(parseLsn('16/B374D848'), 0x16_b374d848n);
    assert.equal(parseLsn('0/0'), 0n);
    assert.equal(parseLsn('ffffffff/ffffffff'), 2n ** 64n - 1n);
    assert.equal(formatLsn(0x16_b374d848n), '16/B374D848');
    assert.equal(formatLsn(0x1_0000000an), '1/A');
    assert.equal(formatLsn(0n), '0/0');
  });

  it('rejects what is not an LSN', () => {
    for (const bad of ['', '16', '16/', '/1', 'G/1', '1/123456789', '1/2/3', '-1/0'])
      assert.throws(() => parseLsn(bad), /LSN/);
    assert.throws(() => formatLsn(-1n));
    assert.throws(() => formatLsn(2n ** 64n));
  });

  it('round-trips every 64-bit position', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (lsn) => parseLsn(formatLsn(lsn)) === lsn));
  });
});

describe('segment arithmetic', () => {
  it('names segments like PostgreSQL at 16 MiB', () => {
    // pg_walfile_name('16/B374D848') on a 16 MiB cluster, timeline 1.
    assert.equal(segmentNameOfLsn(1, parseLsn('16/B374D848'), 16 * MiB), '0000000100000016000000B3');
    assert.equal(segmentName(1, 0n, 16 * MiB), '000000010000000000000000');
    assert.equal(segmentName(2, 256n, 16 * MiB), '000000020000000100000000');
    assert.equal(segmentsPerXLogId(16 * MiB), 256n);
  });

  it('names segments at sizes other than 16 MiB', () => {
    const lsn = parseLsn('16/B374D848');
    // 1 MiB: 4096 segments per xlogid, segment low part = 0xB374D848 >> 20 = 0xB37.
    assert.equal(segmentNameOfLsn(1, lsn, 1 * MiB), '000000010000001600000B37');
    // 64 MiB: 64 per xlogid, 0xB374D848 >> 26 = 0x2C.
    assert.equal(segmentNameOfLsn(1, lsn, 64 * MiB), '00000001000000160000002C');
    // 1 GiB: 4 per xlogid, 0xB374D848 >> 30 = 2.
    assert.equal(segmentNameOfLsn(3, lsn, 1024 * MiB), '000000030000001600000002');
    assert.equal(segmentsPerXLogId(1024 * MiB), 4n);
    assert.equal(segmentsPerXLogId(1 * MiB), 4096n);
  });

  it('computes start, end and offset, with boundary LSNs belonging to the next segment', () => {
    const size = 64 * MiB;
    assert.equal(segmentStartLsn(3n, size), 3n * 64n * 1048576n);
    assert.equal(segmentEndLsn(3n, size), 4n * 64n * 1048576n);
    assert.equal(segmentOf(segmentEndLsn(3n, size), size), 4n);
    assert.equal(segmentBefore(segmentEndLsn(3n, size), size), 3n);
    assert.equal(segmentOffset(segmentStartLsn(3n, size) + 100n, size), 100);
  });

  it('rejects sizes initdb would not allow', () => {
    for (const bad of [0, 512 * 1024, 3 * MiB, 2048 * MiB, 16 * MiB + 1])
      assert.throws(() => segmentsPerXLogId(bad), /segment size/);
  });

  it('reads wal_segment_size settings', () => {
    assert.equal(parseSegmentSizeSetting('16MB'), 16 * MiB);
    assert.equal(parseSegmentSizeSetting('1GB'), 1024 * MiB);
    assert.equal(parseSegmentSizeSetting('1048576'), MiB);
    assert.throws(() => parseSegmentSizeSetting('15MB'));
  });

  it('round-trips names and segment numbers at every size', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...sizes),
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (size, tli, lsn) => {
          const segno = segmentOf(lsn, size);
          const name = segmentName(tli, segno, size);
          const parsed = parseSegmentName(name, size);
          assert.equal(parsed.timeline, tli);
          assert.equal(parsed.segno, segno);
          assert.ok(segmentStartLsn(segno, size) <= lsn && lsn < segmentEndLsn(segno, size));
          assert.equal(segmentStartLsn(segno, size) + BigInt(segmentOffset(lsn, size)), lsn);
          // High part of the name is the high half of the LSN, as in XLogFileName.
          assert.equal(name.slice(8, 16), (lsn >> 32n).toString(16).toUpperCase().padStart(8, '0'));
        },
      ),
    );
  });

  it('refuses a name whose low part cannot exist at this size', () => {
    assert.throws(() => parseSegmentName('000000010000000000000100', 16 * MiB), /cannot exist/);
    assert.deepEqual(parseSegmentName('000000010000000000000100', 1 * MiB), { timeline: 1, segno: 256n });
    assert.throws(() => parseSegmentName('00000001000000000000000g', 16 * MiB));
    assert.throws(() => parseSegmentName('000000000000000000000001', 16 * MiB), /timeline/);
  });
});

describe('timeline history files', () => {
  it('names and recognises history and partial files', () => {
    assert.equal(historyFileName(2), '00000002.history');
    assert.equal(parseHistoryFileName('0000000A.history'), 10);
    assert.equal(parseHistoryFileName('00000002.history.partial'), null);
    assert.ok(isPartialName('000000010000000000000003.partial'));
    assert.ok(!isPartialName('000000010000000000000003'));
  });

  it('parses what PostgreSQL writes on promotion, including comments', () => {
    const text =
      '1\t0/3000148\tno recovery target specified\n\n# comment\n2\t0/5000000\tafter point-in-time recovery target time "2026-01-01 00:00:00+00"\n';
    assert.deepEqual(parseHistoryFile(text), [
      { parentTimeline: 1, switchLsn: 0x3000148n, reason: 'no recovery target specified' },
      {
        parentTimeline: 2,
        switchLsn: 0x5000000n,
        reason: 'after point-in-time recovery target time "2026-01-01 00:00:00+00"',
      },
    ]);
    assert.deepEqual(parseHistoryFile(formatHistoryFile(parseHistoryFile(text))), parseHistoryFile(text));
  });

  it('rejects garbage and out-of-order timelines', () => {
    assert.throws(() => parseHistoryFile('1\tnot-an-lsn\treason\n'), /line 1/);
    assert.throws(() => parseHistoryFile('2\t0/1\ta\n1\t0/2\tb\n'), /not after/);
  });
});
