import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DatabaseFacts } from '../../lib/catalog/status.ts';
import { deriveStatus, nextRunAfter, orderByProblems } from '../../services/status/database-status.ts';
import { spreadSecond } from '../../lib/schedule/spread.ts';

const NOW = new Date('2026-11-23T12:00:00Z');
const HOUR = 3_600_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms);

function facts(name: string, over: Partial<DatabaseFacts> = {}): DatabaseFacts {
  return {
    name,
    workspaceId: 1,
    createdAt: ago(30 * 24 * HOUR),
    schedule: null,
    timezone: 'UTC',
    overdueHours: null,
    pitrEnabled: false,
    health: { status: 'up', at: ago(24 * HOUR), detail: null },
    lastEnded: {
      id: `${name}-b1`,
      status: 'complete',
      startedAt: ago(HOUR + 90_000),
      finishedAt: ago(HOUR),
      error: null,
    },
    lastComplete: {
      id: `${name}-b1`,
      status: 'complete',
      startedAt: ago(HOUR + 90_000),
      finishedAt: ago(HOUR),
      sizeBytes: 4096,
    },
    lastVerification: null,
    lastDrill: null,
    backupsByStatus: { complete: 1 },
    verificationsByStatus: {},
    storedBytes: { backups: 4096, wal: 0, baseBackups: 0 },
    ...over,
  };
}

describe('database status: overdue', () => {
  it('is not overdue without a threshold, however old the backup', () => {
    const s = deriveStatus(
      facts('a', {
        lastComplete: {
          id: 'x',
          status: 'complete',
          startedAt: ago(900 * HOUR),
          finishedAt: ago(899 * HOUR),
          sizeBytes: 1,
        },
      }),
      NOW,
    );
    assert.equal(s.overdue.overdue, false);
    assert.equal(s.lastCompleteBackup?.ageSeconds, 899 * 3600);
    assert.deepEqual(s.problems, []);
  });

  it('is overdue once the newest complete backup is older than the threshold, and not a second before', () => {
    const at = (ageMs: number) =>
      deriveStatus(
        facts('a', {
          overdueHours: 2,
          lastComplete: {
            id: 'x',
            status: 'complete',
            startedAt: ago(ageMs + 1000),
            finishedAt: ago(ageMs),
            sizeBytes: 1,
          },
        }),
        NOW,
      );
    assert.equal(at(2 * HOUR - 1000).overdue.overdue, false);
    assert.equal(at(2 * HOUR).overdue.overdue, false, 'exactly at the threshold is not past it');
    const late = at(2 * HOUR + 1000);
    assert.equal(late.overdue.overdue, true);
    assert.equal(late.problems[0]?.kind, 'overdue');
    assert.match(late.problems[0]!.text, /threshold 2 h/);
  });

  it('counts from when the database was added when it was never backed up, as the watchdog does', () => {
    const young = deriveStatus(
      facts('a', { overdueHours: 24, createdAt: ago(HOUR), lastComplete: null, lastEnded: null }),
      NOW,
    );
    assert.equal(young.overdue.overdue, false);
    assert.equal(young.lastCompleteBackup, null);
    const old = deriveStatus(
      facts('a', { overdueHours: 24, createdAt: ago(25 * HOUR), lastComplete: null, lastEnded: null }),
      NOW,
    );
    assert.equal(old.overdue.overdue, true);
    assert.match(old.problems[0]!.text, /never backed up/);
  });

  it('a failed backup after a good one does not reset the age', () => {
    const s = deriveStatus(
      facts('a', {
        overdueHours: 0.5,
        lastEnded: {
          id: 'f',
          status: 'failed',
          startedAt: ago(60_000),
          finishedAt: ago(30_000),
          error: 'pg_dump: connection refused',
        },
      }),
      NOW,
    );
    assert.deepEqual(
      s.problems.map((p) => p.kind),
      ['overdue', 'backup_failed'],
    );
    assert.equal(s.lastCompleteBackup?.id, 'a-b1');
    assert.equal(s.lastBackup?.status, 'failed');
    assert.match(s.problems[1]!.text, /connection refused/);
  });
});

describe('database status: facts', () => {
  it('size, duration, age and storage come from the newest complete backup and the stored bytes', () => {
    const s = deriveStatus(facts('a', { storedBytes: { backups: 100, wal: 20, baseBackups: 3 } }), NOW);
    assert.equal(s.lastCompleteBackup?.sizeBytes, 4096);
    assert.equal(s.lastCompleteBackup?.durationSeconds, 90);
    assert.equal(s.lastCompleteBackup?.ageSeconds, 3600);
    assert.equal(s.storageUsedBytes, 123);
    assert.equal(s.health.state, 'up');
  });

  it('health is unknown before the first probe', () => {
    const s = deriveStatus(facts('a', { health: null }), NOW);
    assert.deepEqual(s.health, { state: 'unknown', since: null, detail: null });
    assert.deepEqual(s.problems, []);
  });

  it('PITR: the RPO is the age of the newest archived WAL; a gap is a problem; no PITR, no RPO', () => {
    const s = deriveStatus(facts('a', { pitrEnabled: true }), NOW, {
      window: { from: ago(5 * HOUR), to: ago(7000) },
      gaps: ['timeline 1 from 0/3000000 to 0/4000000: 1 segment(s) missing'],
      newestWalAt: ago(7000),
    });
    assert.equal(s.pitr?.rpoSeconds, 7);
    assert.deepEqual(s.pitr?.window, { from: ago(5 * HOUR).toISOString(), to: ago(7000).toISOString() });
    assert.deepEqual(
      s.problems.map((p) => p.kind),
      ['wal_gap'],
    );
    assert.equal(deriveStatus(facts('b'), NOW).pitr, null);
    const empty = deriveStatus(facts('c', { pitrEnabled: true }), NOW, { window: null, gaps: [], newestWalAt: null });
    assert.equal(empty.pitr?.rpoSeconds, null);
  });

  it("PITR: the badge's state, and the newest base backup that protects a database without logical backups", () => {
    const pitrOnly = { pitrEnabled: true, lastEnded: null, lastComplete: null, backupsByStatus: {} };
    const window = { from: ago(5 * HOUR), to: ago(7000) };
    const base = { id: 'base-1', finishedAt: ago(5 * HOUR) };
    const state = (over: Partial<Parameters<typeof deriveStatus>[2] & object>) =>
      deriveStatus(facts('p', pitrOnly), NOW, { window, gaps: [], newestWalAt: ago(7000), ...over }).pitr;
    const ok = state({ lastBaseBackup: base, completeBaseBackups: 2 });
    assert.equal(ok?.state, 'ok');
    assert.deepEqual(ok?.lastBaseBackup, {
      id: 'base-1',
      finishedAt: base.finishedAt.toISOString(),
      ageSeconds: 5 * 3600,
    });
    assert.equal(ok?.completeBaseBackups, 2);
    assert.equal(state({ newestWalAt: ago(16 * 60_000) })?.state, 'stale');
    assert.equal(state({ newestWalAt: ago(14 * 60_000) })?.state, 'ok');
    assert.equal(state({ gaps: ['timeline 1: 1 segment(s) missing'] })?.state, 'broken');
    assert.equal(state({ window: null, newestWalAt: null })?.state, 'waiting');
    assert.equal(state({})?.lastBaseBackup, null);
  });
});

describe('database status: next scheduled run', () => {
  it("follows the cron in the schedule's time zone", () => {
    assert.equal(nextRunAfter('0 3 * * *', 'UTC', NOW)?.toISOString(), '2026-11-24T03:00:00.000Z');
    // 03:00 in Paris is 02:00 UTC in winter.
    assert.equal(nextRunAfter('0 3 * * *', 'Europe/Paris', NOW)?.toISOString(), '2026-11-24T02:00:00.000Z');
    assert.equal(
      nextRunAfter('@hourly', 'UTC', new Date('2026-11-23T12:00:01Z'))?.toISOString(),
      '2026-11-23T13:00:00.000Z',
    );
    // Across the spring change in New York: 02:30 does not exist on 2026-03-08.
    const spring = nextRunAfter('30 4 * * *', 'America/New_York', new Date('2026-03-08T00:00:00Z'));
    assert.equal(spring?.toISOString(), '2026-03-08T08:30:00.000Z');
  });

  it('is in the status of a scheduled database, absent for a manual one, null for an expression it cannot read', () => {
    // At the database's own second of the minute, as Temporal starts its backups: at 12:00:00 the
    // run of 12:00 has not started yet.
    assert.ok(spreadSecond('a') > 0);
    const second = String(spreadSecond('a')).padStart(2, '0');
    assert.equal(
      deriveStatus(facts('a', { schedule: '*/15 * * * *' }), NOW).schedule?.nextRunAt,
      `2026-11-23T12:00:${second}.000Z`,
    );
    assert.equal(
      nextRunAfter('*/15 * * * *', 'UTC', new Date('2026-11-23T12:15:05Z'), 30)?.toISOString(),
      '2026-11-23T12:15:30.000Z',
    );
    assert.equal(
      nextRunAfter('*/15 * * * *', 'UTC', new Date('2026-11-23T12:15:30Z'), 30)?.toISOString(),
      '2026-11-23T12:30:30.000Z',
    );
    assert.equal(deriveStatus(facts('a'), NOW).schedule, null);
    assert.equal(nextRunAfter('not a cron', 'UTC', NOW), null);
  });
});

describe('database status: problems first', () => {
  it('orders down, overdue, failed backup, failed verification, WAL gap, then the healthy by name', () => {
    const statuses = [
      deriveStatus(facts('zeta'), NOW),
      deriveStatus(facts('gap', { pitrEnabled: true }), NOW, {
        window: null,
        gaps: ['timeline 1 …'],
        newestWalAt: ago(1000),
      }),
      deriveStatus(
        facts('verify', {
          lastVerification: {
            id: 'v',
            backupId: 'b',
            status: 'failed',
            finishedAt: ago(1000),
            reason: 'row counts differ in public.orders',
            timeToUsableSeconds: 12.5,
          },
        }),
        NOW,
      ),
      deriveStatus(facts('alpha'), NOW),
      deriveStatus(
        facts('failed', {
          lastEnded: { id: 'f', status: 'failed', startedAt: ago(9000), finishedAt: ago(8000), error: 'boom' },
        }),
        NOW,
      ),
      deriveStatus(facts('late', { overdueHours: 0.1 }), NOW),
      deriveStatus(facts('down', { health: { status: 'down', at: ago(600_000), detail: 'connection refused' } }), NOW),
      deriveStatus(facts('beta'), NOW),
    ];
    const ordered = orderByProblems(statuses);
    assert.deepEqual(
      ordered.map((s) => s.name),
      ['down', 'late', 'failed', 'verify', 'gap', 'alpha', 'beta', 'zeta'],
    );
    assert.equal(ordered[0]!.problems[0]!.text, 'down for 10 min: connection refused');
    assert.deepEqual(ordered[0]!.health, {
      state: 'down',
      since: ago(600_000).toISOString(),
      detail: 'connection refused',
    });
  });

  it('ranks a database by its most urgent problem, ties by name', () => {
    const both = deriveStatus(
      facts('b-both', {
        health: { status: 'down', at: ago(1000), detail: null },
        lastVerification: {
          id: 'v',
          backupId: 'b',
          status: 'failed',
          finishedAt: ago(1000),
          reason: null,
          timeToUsableSeconds: null,
        },
      }),
      NOW,
    );
    assert.deepEqual(
      both.problems.map((p) => p.kind),
      ['down', 'verification_failed'],
    );
    const down = deriveStatus(facts('a-down', { health: { status: 'down', at: ago(1000), detail: null } }), NOW);
    assert.deepEqual(
      orderByProblems([both, down]).map((s) => s.name),
      ['a-down', 'b-both'],
    );
  });

  it('a verification that failed and was then passed by a newer one is no longer a problem', () => {
    const s = deriveStatus(
      facts('a', {
        lastVerification: {
          id: 'v2',
          backupId: 'b2',
          status: 'successful',
          finishedAt: ago(10),
          reason: null,
          timeToUsableSeconds: 3.25,
        },
      }),
      NOW,
    );
    assert.deepEqual(s.problems, []);
  });
});
