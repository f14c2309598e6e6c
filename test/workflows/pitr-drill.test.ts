import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { DrillTarget } from '../../lib/pitr/drill-targets.ts';
import { pitrDrillWorkflow } from '../../temporal/contracts/pitr-drill.ts';
import { callOrder, failsWith, recording, type FakeActivities } from './fakes.ts';
import { plan, recovered } from './restore-fixtures.ts';
import { failureOf } from './runs.ts';
import { test, timeSkippingPlatform } from './support.ts';

/** A PITR drill's decisions: each target planned, restored once into a sandbox as a drill, and recorded. */
const platform = timeSkippingPlatform();

const target = (t: DrillTarget['target']): DrillTarget => ({
  window: 'w1',
  timeline: 1,
  baseBackupId: plan.baseBackupId,
  target: t,
  provesUntil: '2026-01-01T10:00:00.000Z',
  fromLsn: '0/2000100',
  toLsn: '0/3000060',
  missingInStorage: [],
});
const targets = [target({ time: '2026-01-01T09:59:59.000Z' }), target('latest')];

function drillOf(overrides: FakeActivities = {}) {
  let recorded = 0;
  return recording({
    planPitrDrill: async (input) => ({
      server: input.server,
      database: 'pg1-postgres',
      segmentSize: 16 << 20,
      targets,
    }),
    planPitrRestore: async () => plan,
    restoreToPointInTime: async () => ({ ...recovered, dataDirectory: null, port: null, kept: false }),
    recordPitrDrillRun: async (input) => {
      recorded += 1;
      const failed = 'error' in input.restored;
      return {
        drill: {
          id: recorded,
          window: input.target.window,
          target: input.target.target === 'latest' ? 'latest' : input.target.target.time,
          outcome: failed ? ('failed' as const) : ('passed' as const),
          error: failed ? (input.restored as { error: string }).error : null,
          reachedLsn: null,
          reachedTime: null,
          verifyBackup: null,
          amcheck: null,
          figures: null,
        },
        provenUpTo: '2026-01-01T09:59:59.000Z',
      };
    },
    ...overrides,
  });
}

describe('pitrDrill', () => {
  test('restores every target into a sandbox as a drill, one after the other, and records each', async () => {
    const fake = drillOf();
    const outcome = await platform.execute(fake, pitrDrillWorkflow, { server: 'pg1', seed: 7 });
    assert.equal(
      callOrder(fake),
      'planPitrDrill → planPitrRestore → restoreToPointInTime → recordPitrDrillRun → planPitrRestore → restoreToPointInTime → recordPitrDrillRun',
    );
    assert.deepEqual(fake.named('planPitrDrill'), [{ server: 'pg1', seed: 7, latest: true }]);
    const restores = fake.named('restoreToPointInTime') as Array<{ to: unknown; drill: boolean; target: unknown }>;
    assert.deepEqual(
      restores.map((r) => [r.to, r.drill, r.target]),
      [
        [{ sandbox: true }, true, { time: '2026-01-01T09:59:59.000Z' }],
        [{ sandbox: true }, true, 'latest'],
      ],
    );
    assert.deepEqual(
      [outcome.passed, outcome.drills.length, outcome.provenUpTo],
      [true, 2, '2026-01-01T09:59:59.000Z'],
    );
  });

  test('a restore that fails is tried once, recorded with its message, and the next target still runs', async () => {
    const fake = drillOf({
      restoreToPointInTime: failsWith('PostgreSQL stopped during recovery: segment missing', 'tool_failed'),
    });
    const outcome = await platform.execute(fake, pitrDrillWorkflow, { server: 'pg1' });
    assert.equal(fake.named('restoreToPointInTime').length, 2, 'one attempt per target, no retry');
    const recorded = fake.named('recordPitrDrillRun') as Array<{ restored: { error?: string } }>;
    assert.deepEqual(
      recorded.map((r) => r.restored.error),
      ['PostgreSQL stopped during recovery: segment missing', 'PostgreSQL stopped during recovery: segment missing'],
    );
    assert.equal(outcome.passed, false);
  });

  test('a bad input fails at once, naming the field, before anything runs', async () => {
    const fake = drillOf();
    const failure = await failureOf(
      platform.execute(fake, pitrDrillWorkflow, { server: 'pg1', seed: -3 } as { server: string; seed: number }),
    );
    assert.match(failure.message, /seed/);
    assert.equal(fake.calls.length, 0);
  });
});
