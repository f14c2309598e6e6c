import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WindowView } from '../../lib/pitr/chain-view.ts';
import { drillOptionsSchema, pickDrillTargets, seededRandom, timeInside } from '../../lib/pitr/drill-targets.ts';
import { drillVerdict, recoveryVerdict } from '../../lib/pitr/drill-verdict.ts';
import { restoreFigures } from '../../lib/pitr/restore-figures.ts';
import { pitrDrillInput } from '../../temporal/contracts/pitr-drill.ts';
import { drillScheduleSchema } from '../../services/servers/input.ts';

const window = (from: string, to: string, fromLsn: string, toLsn: string, id = 'b1'): WindowView => ({
  baseBackupId: id,
  timeline: 1,
  from: { lsn: fromLsn, time: from },
  to: { lsn: toLsn, time: to },
  legs: [],
  text: `${from} – ${to}`,
});

const windows = [
  window('2026-12-01T00:00:00.000Z', '2026-12-02T00:00:00.000Z', '0/2000028', '0/9000000'),
  window('2026-12-03T00:00:00.000Z', '2026-12-03T06:00:00.000Z', '0/B000028', '0/F000000', 'b2'),
];

describe('PITR drill targets', () => {
  it('a seed gives the same times every time; another seed gives others', () => {
    const pick = (seed: number) => pickDrillTargets(windows, { random: seededRandom(seed), latest: true });
    assert.deepEqual(pick(42), pick(42));
    assert.notDeepEqual(pick(42), pick(43));
  });

  it('one time strictly inside each window, then the newest point of the newest window', () => {
    for (let seed = 0; seed < 200; seed++) {
      const targets = pickDrillTargets(windows, { random: seededRandom(seed), latest: true });
      assert.equal(targets.length, 3);
      for (const [i, w] of windows.entries()) {
        const t = targets[i]!;
        assert.ok(typeof t.target === 'object');
        const at = Date.parse(t.target.time);
        assert.ok(at > Date.parse(w.from.time) && at <= Date.parse(w.to.time), `${t.target.time} inside ${w.text}`);
        assert.deepEqual([t.baseBackupId, t.provesUntil, t.toLsn], [w.baseBackupId, t.target.time, w.to.lsn]);
      }
      assert.deepEqual(
        [targets[2]!.target, targets[2]!.provesUntil, targets[2]!.baseBackupId],
        ['latest', '2026-12-03T06:00:00.000Z', 'b2'],
      );
    }
  });

  it('spreads over the window: the extremes of the generator land at its ends', () => {
    assert.equal(
      timeInside(windows[0]!, () => 0),
      '2026-12-01T00:00:00.001Z',
    );
    assert.equal(
      timeInside(windows[0]!, () => 0.999999999999),
      '2026-12-02T00:00:00.000Z',
    );
    const point = window('2026-12-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z', '0/1', '0/1');
    assert.equal(
      timeInside(point, () => 0.5),
      '2026-12-01T00:00:00.000Z',
    );
  });

  it('without --latest only the windows; no windows, no targets', () => {
    assert.equal(pickDrillTargets(windows, { random: seededRandom(1), latest: false }).length, 2);
    assert.deepEqual(pickDrillTargets([], { random: seededRandom(1), latest: true }), []);
  });

  it('validates its options and the workflow input, naming the field', () => {
    assert.deepEqual(drillOptionsSchema.parse({}), { latest: true });
    assert.throws(() => drillOptionsSchema.parse({ seed: -1 }), /seed/);
    assert.throws(() => drillOptionsSchema.parse({ seed: 1.5 }), /seed/);
    assert.throws(() => drillOptionsSchema.parse({ other: 1 }), /other/);
    assert.deepEqual(pitrDrillInput.parse({ server: 'pg1' }), { server: 'pg1', trigger: 'schedule', latest: true });
    const bad = pitrDrillInput.safeParse({ server: 'no spaces allowed', seed: 'x' });
    assert.equal(bad.success, false);
    const paths = bad.error!.issues.map((i) => i.path.join('.'));
    assert.deepEqual(paths.sort(), ['seed', 'server']);
    assert.equal(drillScheduleSchema.parse(null), null);
    assert.equal(drillScheduleSchema.parse('0 5 * * 1'), '0 5 * * 1');
    assert.equal(drillScheduleSchema.safeParse('every sunday').success, false);
  });
});

describe('PITR drill verdict', () => {
  const [atTime] = pickDrillTargets(windows, { random: () => 0.5, latest: false });
  const t = (atTime!.target as { time: string }).time;
  const SEG = 16 * 1024 * 1024;

  it('passes a recovery that stopped at a commit at or before T, and with the checks passed', () => {
    const report = { reachedLsn: '0/5000100', lastTransactionTime: t, note: null };
    assert.equal(recoveryVerdict(atTime!, report, SEG), null);
    const checks = { verifyBackup: { outcome: 'passed' as const, detail: '', ms: 1 } };
    assert.deepEqual(drillVerdict(atTime!, { report: { ...report, drillChecks: checks } }, SEG), {
      outcome: 'passed',
      error: null,
    });
  });

  it('fails a recovery that replayed a commit after T', () => {
    const after = new Date(Date.parse(t) + 1).toISOString();
    const report = { reachedLsn: '0/5000100', lastTransactionTime: after, note: null };
    assert.match(recoveryVerdict(atTime!, report, SEG)!, /overshot the target .* committed at /);
  });

  it('fails an end-of-archive promotion short of the window end, naming the segment not replayed', () => {
    const report = { reachedLsn: '0/5000100', lastTransactionTime: null, note: 'no transaction…' };
    assert.match(
      recoveryVerdict(atTime!, report, SEG)!,
      /not reached: recovery ended at 0\/5000100, before the window's archived end 0\/9000000; segment 000000010000000000000005/,
    );
    const latest = { ...atTime!, target: 'latest' as const };
    assert.match(recoveryVerdict(latest, { ...report, note: null }, SEG)!, /newest point was not reached/);
    assert.equal(recoveryVerdict(latest, { ...report, reachedLsn: '0/9000000', note: null }, SEG), null);
  });

  it('fails on a restore error or damage found, adding what storage lacks', () => {
    const lacking = { ...atTime!, missingInStorage: ['000000010000000000000003'] };
    assert.deepEqual(drillVerdict(lacking, { error: 'outside every window' }, SEG), {
      outcome: 'failed',
      error:
        'outside every window; storage lacks segment 000000010000000000000003 that the catalog lists inside this window',
    });
    const damaged = { outcome: 'failed' as const, detail: 'pg_amcheck (exit 2): heap corruption', ms: 1 };
    const missing = { outcome: 'missing' as const, detail: 'amcheck is not installed', ms: 1 };
    const report = { reachedLsn: '0/5000100', lastTransactionTime: t, note: null };
    assert.deepEqual(drillVerdict(atTime!, { report: { ...report, drillChecks: { amcheck: damaged } } }, SEG), {
      outcome: 'failed',
      error: 'pg_amcheck (exit 2): heap corruption',
    });
    // A missing amcheck is recorded as missing by the check; it is not damage found.
    assert.equal(
      drillVerdict(atTime!, { report: { ...report, drillChecks: { amcheck: missing } } }, SEG).outcome,
      'passed',
    );
  });
});

describe('PITR restore figures', () => {
  it('time to a usable server, WAL replayed from the base backup start and its rate over recovery', () => {
    const stagesMs = {
      destination: 10,
      extract: 990,
      configure: 100,
      start: 400,
      consistent: 600,
      promoted: 1000,
      finish: 50,
    };
    assert.deepEqual(restoreFigures({ stagesMs, totalMs: 3150, startLsn: '0/2000028', reachedLsn: '0/4000028' }), {
      usableAfterMs: 3100,
      totalMs: 3150,
      stagesMs,
      walBytesReplayed: 32 * 1024 * 1024,
      recoveryMs: 2000,
      walBytesPerSecond: 16 * 1024 * 1024,
    });
  });

  it('unknown without a start LSN or a measured recovery', () => {
    const f = restoreFigures({ stagesMs: { extract: 5 }, totalMs: 5, startLsn: null, reachedLsn: '0/1' });
    assert.deepEqual([f.walBytesReplayed, f.walBytesPerSecond, f.recoveryMs], [null, null, 0]);
    const g = restoreFigures({ stagesMs: {}, totalMs: 0, startLsn: '0/1', reachedLsn: '0/11' });
    assert.deepEqual([g.walBytesReplayed, g.walBytesPerSecond], [16, null]);
  });
});
