import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  analyseChain,
  chooseWindow,
  describeGap,
  type ChainBaseBackup,
  type ChainHistory,
  type ChainSegment,
} from '../../lib/wal/chain.ts';
import { formatHistoryFile, formatLsn, segmentEndLsn, segmentName, segmentStartLsn } from '../../lib/wal/lsn.ts';

const MiB = 1024 * 1024;
const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);
const at = (seconds: number) => new Date(T0 + seconds * 1000);

/** Segment `segno` of `tli`, complete unless `partialBytes` is given; received at second `segno`. */
function seg(
  tli: number,
  segno: number,
  size: number,
  options: { partialBytes?: number; at?: number; inStorage?: boolean } = {},
): ChainSegment {
  const n = BigInt(segno);
  const complete = options.partialBytes === undefined;
  return {
    timeline: tli,
    segno: n,
    endLsn: complete ? segmentEndLsn(n, size) : segmentStartLsn(n, size) + BigInt(options.partialBytes!),
    complete,
    receivedAt: at(options.at ?? segno),
    ...(options.inStorage === undefined ? {} : { inStorage: options.inStorage }),
  };
}

const run = (tli: number, from: number, to: number, size: number): ChainSegment[] =>
  Array.from({ length: to - from + 1 }, (_, i) => seg(tli, from + i, size));

/** A base backup that starts 100 bytes into `segno` and stops 200 bytes into `stopSegno`, at second `stopAt`. */
function base(
  id: string,
  tli: number,
  segno: number,
  stopSegno: number,
  size: number,
  stopAt: number,
): ChainBaseBackup {
  return {
    id,
    timeline: tli,
    startLsn: segmentStartLsn(BigInt(segno), size) + 100n,
    stopLsn: segmentStartLsn(BigInt(stopSegno), size) + 200n,
    stopTime: at(stopAt),
  };
}

const history = (tli: number, switches: Array<[number, bigint]>): ChainHistory => ({
  timeline: tli,
  content: formatHistoryFile(
    switches.map(([parentTimeline, switchLsn]) => ({
      parentTimeline,
      switchLsn,
      reason: 'no recovery target specified',
    })),
  ),
});

describe('WAL chain: recoverable windows and gaps', () => {
  for (const size of [16 * MiB, 1 * MiB, 64 * MiB, 1024 * MiB]) {
    it(`a contiguous chain is one window from the backup's stop to the last byte (${size / MiB} MiB segments)`, () => {
      const a = analyseChain({
        segmentSize: size,
        segments: run(1, 2, 9, size),
        baseBackups: [base('b1', 1, 3, 4, size, 4)],
        histories: [],
      });
      assert.deepEqual(a.gaps, []);
      assert.equal(a.windows.length, 1);
      const w = a.windows[0]!;
      assert.equal(w.baseBackupId, 'b1');
      assert.equal(w.timeline, 1);
      assert.equal(w.from.lsn, segmentStartLsn(4n, size) + 200n);
      assert.equal(w.to.lsn, segmentEndLsn(9n, size));
      assert.deepEqual(w.to.time, at(9));
    });
  }

  it('a gap ends the window before it and is reported with its LSN range and segment names', () => {
    const size = 16 * MiB;
    const segments = [...run(1, 1, 4, size), ...run(1, 7, 9, size)];
    const a = analyseChain({ segmentSize: size, segments, baseBackups: [base('b1', 1, 1, 2, size, 2)], histories: [] });
    assert.equal(a.windows.length, 1);
    assert.equal(a.windows[0]!.to.lsn, segmentEndLsn(4n, size));
    assert.deepEqual(a.windows[0]!.to.time, at(4));
    assert.equal(a.gaps.length, 1);
    const g = a.gaps[0]!;
    assert.equal(g.timeline, 1);
    assert.equal(formatLsn(g.fromLsn), '0/5000000');
    assert.equal(formatLsn(g.toLsn), '0/7000000');
    assert.deepEqual(g.missing, ['000000010000000000000005', '000000010000000000000006']);
    assert.match(describeGap(g), /timeline 1 from 0\/5000000 to 0\/7000000: 2 segment\(s\) missing/);
  });

  it('a segment the catalog lists but storage lacks is a gap, named as such', () => {
    const size = 16 * MiB;
    const segments = run(1, 1, 6, size).map((s) => (s.segno === 3n ? { ...s, inStorage: false } : s));
    const a = analyseChain({ segmentSize: size, segments, baseBackups: [base('b1', 1, 1, 1, size, 1)], histories: [] });
    assert.deepEqual(
      a.gaps.map((g) => [formatLsn(g.fromLsn), formatLsn(g.toLsn), g.notInStorage]),
      [['0/3000000', '0/4000000', ['000000010000000000000003']]],
    );
    assert.equal(a.windows[0]!.to.lsn, segmentEndLsn(2n, size));
  });

  it('two base backups give two windows; a target picks the newest backup that stops before it', () => {
    const size = 16 * MiB;
    const a = analyseChain({
      segmentSize: size,
      segments: run(1, 1, 20, size),
      // Names sort the other way round: the choice must follow LSN and time, not names.
      baseBackups: [base('zz-old', 1, 1, 2, size, 2), base('aa-new', 1, 10, 11, size, 11)],
      histories: [],
    });
    assert.equal(a.windows.length, 2);
    assert.deepEqual(
      a.windows.map((w) => w.to.lsn),
      [segmentEndLsn(20n, size), segmentEndLsn(20n, size)],
    );
    assert.equal(chooseWindow(a.windows, { kind: 'time', time: at(5) })!.baseBackupId, 'zz-old');
    assert.equal(chooseWindow(a.windows, { kind: 'time', time: at(15) })!.baseBackupId, 'aa-new');
    assert.equal(chooseWindow(a.windows, { kind: 'lsn', lsn: segmentStartLsn(12n, size) })!.baseBackupId, 'aa-new');
    assert.equal(chooseWindow(a.windows, { kind: 'latest' })!.baseBackupId, 'aa-new');
    assert.equal(
      chooseWindow(a.windows, { kind: 'xid' })!.baseBackupId,
      'zz-old',
      'a transaction id is searched from the oldest backup',
    );
    assert.equal(chooseWindow(a.windows, { kind: 'time', time: at(1) }), null, 'before any backup is consistent');
    assert.equal(chooseWindow(a.windows, { kind: 'time', time: at(21) }), null, 'after the last durable byte');
  });

  it('a base backup whose own WAL is missing is unusable, and a newer one after the gap still works', () => {
    const size = 16 * MiB;
    const segments = [...run(1, 1, 3, size), ...run(1, 6, 12, size)];
    const a = analyseChain({
      segmentSize: size,
      segments,
      baseBackups: [base('b1', 1, 1, 1, size, 1), base('b2', 1, 4, 5, size, 5), base('b3', 1, 7, 8, size, 8)],
      histories: [],
    });
    assert.deepEqual(
      a.unusableBaseBackups.map((u) => u.id),
      ['b2'],
    );
    assert.deepEqual(
      a.windows.map((w) => [w.baseBackupId, formatLsn(w.to.lsn)]),
      [
        ['b1', '0/4000000'],
        ['b3', '0/D000000'],
      ],
    );
    assert.equal(chooseWindow(a.windows, { kind: 'time', time: at(5) }), null, 'inside the gap');
    assert.equal(chooseWindow(a.windows, { kind: 'time', time: at(10) })!.baseBackupId, 'b3');
  });

  it('follows a timeline switch through the history file and never mixes timelines', () => {
    const size = 16 * MiB;
    const switchLsn = segmentStartLsn(6n, size) + 0x1234n;
    const segments = [
      ...run(1, 1, 5, size),
      // the old primary went on writing timeline 1 past the switch: segments 6..9 on timeline 1
      ...run(1, 6, 9, size).map((s) => ({ ...s, receivedAt: at(100 + Number(s.segno)) })),
      // timeline 2 starts with the segment that holds the switch point
      ...run(2, 6, 8, size).map((s) => ({ ...s, receivedAt: at(200 + Number(s.segno)) })),
    ];
    const a = analyseChain({
      segmentSize: size,
      segments,
      baseBackups: [base('b1', 1, 1, 2, size, 2)],
      histories: [history(2, [[1, switchLsn]])],
    });
    assert.deepEqual(a.gaps, []);
    const t1 = a.windows.find((w) => w.timeline === 1)!;
    const t2 = a.windows.find((w) => w.timeline === 2)!;
    assert.equal(t1.to.lsn, segmentEndLsn(9n, size));
    assert.equal(t2.to.lsn, segmentEndLsn(8n, size));
    assert.deepEqual(t2.to.time, at(208));
    assert.deepEqual(
      t2.legs.map((l) => [l.timeline, formatLsn(l.toLsn)]),
      [
        [1, formatLsn(switchLsn)],
        [2, formatLsn(segmentEndLsn(8n, size))],
      ],
    );
    assert.equal(chooseWindow(a.windows, { kind: 'latest' })!.timeline, 2);

    // Timeline 2 lacks its segment 7: its window stops at 7's start, and timeline 1's segment 7
    // (written by the old primary after the switch) must not fill the hole.
    const holed = analyseChain({
      segmentSize: size,
      segments: segments.filter((s) => !(s.timeline === 2 && s.segno === 7n)),
      baseBackups: [base('b1', 1, 1, 2, size, 2)],
      histories: [history(2, [[1, switchLsn]])],
    });
    assert.equal(holed.windows.find((w) => w.timeline === 2)!.to.lsn, segmentEndLsn(6n, size));
    assert.deepEqual(
      holed.gaps.map((g) => [g.timeline, g.missing]),
      [[2, ['000000020000000000000007']]],
    );
  });

  it('a base backup taken on the child timeline starts a window there; a backup on timeline 1 after the switch does not reach timeline 2', () => {
    const size = 1 * MiB;
    const switchLsn = segmentStartLsn(5n, size) + 64n;
    const segments = [...run(1, 1, 8, size), ...run(2, 5, 10, size)];
    const a = analyseChain({
      segmentSize: size,
      segments,
      baseBackups: [base('on-2', 2, 7, 7, size, 7), base('late-on-1', 1, 6, 6, size, 6)],
      histories: [history(2, [[1, switchLsn]])],
    });
    assert.deepEqual(a.windows.map((w) => [w.baseBackupId, w.timeline]).sort(), [
      ['late-on-1', 1],
      ['on-2', 2],
    ]);
    // The names of timeline 2's segments carry its number.
    assert.equal(segmentName(2, 5n, size), '000000020000000000000005');
  });

  it('a timeline 3 whose history lists 1 and 2 follows both switches', () => {
    const size = 16 * MiB;
    const s12 = segmentStartLsn(4n, size) + 10n;
    const s23 = segmentStartLsn(7n, size) + 10n;
    const segments = [...run(1, 1, 4, size), ...run(2, 4, 7, size), ...run(3, 7, 9, size)];
    const a = analyseChain({
      segmentSize: size,
      segments,
      baseBackups: [base('b1', 1, 1, 2, size, 2)],
      histories: [
        history(2, [[1, s12]]),
        history(3, [
          [1, s12],
          [2, s23],
        ]),
      ],
    });
    const t3 = a.windows.find((w) => w.timeline === 3)!;
    assert.deepEqual(
      t3.legs.map((l) => l.timeline),
      [1, 2, 3],
    );
    assert.equal(t3.to.lsn, segmentEndLsn(9n, size));
  });

  it('a partial segment at the end ends the window at its last durable byte and its upload time', () => {
    const size = 16 * MiB;
    const segments = [...run(1, 1, 4, size), seg(1, 5, size, { partialBytes: 123_456, at: 42 })];
    const a = analyseChain({ segmentSize: size, segments, baseBackups: [base('b1', 1, 1, 2, size, 2)], histories: [] });
    assert.deepEqual(a.gaps, []);
    assert.equal(a.windows[0]!.to.lsn, segmentStartLsn(5n, size) + 123_456n);
    assert.deepEqual(a.windows[0]!.to.time, at(42));
    assert.ok(chooseWindow(a.windows, { kind: 'time', time: at(41) }));
  });

  it('a partial segment followed by later ones is a gap from its last byte to its end', () => {
    const size = 16 * MiB;
    const segments = [...run(1, 1, 3, size), seg(1, 4, size, { partialBytes: 4096 }), ...run(1, 5, 6, size)];
    const a = analyseChain({ segmentSize: size, segments, baseBackups: [base('b1', 1, 1, 1, size, 1)], histories: [] });
    assert.deepEqual(
      a.gaps.map((g) => [formatLsn(g.fromLsn), formatLsn(g.toLsn), g.missingCount]),
      [['0/4001000', '0/5000000', 0]],
    );
    assert.equal(a.windows[0]!.to.lsn, segmentStartLsn(4n, size) + 4096n);
  });

  it('no base backup: gaps can still be found, no window exists', () => {
    const size = 16 * MiB;
    const a = analyseChain({
      segmentSize: size,
      segments: [...run(1, 1, 2, size), ...run(1, 4, 4, size)],
      baseBackups: [],
      histories: [],
    });
    assert.deepEqual(a.windows, []);
    assert.equal(a.gaps.length, 1);
    assert.equal(chooseWindow(a.windows, { kind: 'latest' }), null);
  });
});
