/**
 * PITR drills on a real archive (docs/pitr.md, "Drills"): a source whose WAL streams through
 * Hindsight, registered as a server whose PITR takes the archive over. A drill restores into a
 * sandbox to a seeded random time inside the window and to the newest point, checks each and records
 * it: target inside the window, proven-up-to, pg_verifybackup and pg_amcheck outcomes, the measured
 * figures, server show and /metrics. Then one WAL segment the window needs is deleted from storage
 * (its catalog row stays): the next drill fails naming it, proven-up-to stays, a notification is queued.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { targetUrl } from '../../lib/pg/connection.ts';
import { chainView, loadChain } from '../../lib/pitr/chain-source.ts';
import { pickDrillTargets, seededRandom } from '../../lib/pitr/drill-targets.ts';
import { formatLsn, parseLsn, segmentNameOfLsn } from '../../lib/wal/lsn.ts';
import { systemActor } from '../../services/authz.ts';
import type { PitrDrillOutcome } from '../../temporal/contracts/pitr-drill.ts';
import { createConsoleMetrics } from '../../web/metrics.ts';
import { hindsightResult } from '../support/hindsight-cli.ts';
import { usePitrScenario, type PitrScenario } from '../support/pitr-scenario.ts';

const SEED = 20261207;
/** The `hindsight` command against the test's platform: its exit code and what it printed. */
const hindsight = (pitr: PitrScenario, args: string[]) => hindsightResult(pitr.platform.configEnv, args);

async function addsTheServerWithPitr(pitr: PitrScenario): Promise<void> {
  const { services } = pitr.platform;
  const url = targetUrl({ ...pitr.source.target, database: 'postgres' });
  await services.servers.add(systemActor, { name: 'pg1', url, verifyAfterBackup: false });
  const on = await services.servers.pitrOn(systemActor, 'pg1', { firstBaseBackup: false, partialIntervalMs: 500 });
  assert.deepEqual([on.archiveDatabase, on.tookOver], ['drill', true], 'the archive of "drill" is taken over');
}

const drill = async (pitr: PitrScenario): Promise<PitrDrillOutcome> =>
  (await pitr.platform.services.servers.drill(systemActor, 'pg1', { seed: SEED })).result();

/** The targets the seeded drill must pick: the catalog's windows, the same generator. */
async function expectedTargets(pitr: PitrScenario) {
  const view = chainView(await loadChain(pitr.platform.runtime.catalog, 'drill'), new Date());
  return { view, targets: pickDrillTargets(view.windows, { random: seededRandom(SEED), latest: true }) };
}

async function aDrillPasses(pitr: PitrScenario): Promise<void> {
  const { services, runtime } = pitr.platform;
  const shown = await services.servers.show(systemActor, 'pg1');
  assert.deepEqual([shown.drills.schedule, shown.drills.scheduled], ['17 4 * * 0', true], 'weekly by default');
  assert.equal(shown.drills.provenUpTo, null);
  const { view, targets } = await expectedTargets(pitr);
  const outcome = await drill(pitr);
  assert.equal(outcome.passed, true, JSON.stringify(outcome.drills.map((d) => d.error)));
  assert.deepEqual(
    outcome.drills.map((d) => d.target),
    targets.map((t) => (t.target === 'latest' ? 'latest' : t.target.time)),
    'one seeded random time per window, then the newest point',
  );
  const [atTime, latest] = outcome.drills;
  const window = view.windows[0]!;
  const t = Date.parse(atTime!.target);
  assert.ok(t > Date.parse(window.from.time) && t <= Date.parse(window.to.time), `${atTime!.target} in ${window.text}`);
  // Recovery stopped at or before T: no commit after it was replayed. The rows commit one after the
  // other on one connection, so the row before the last one stamped at or before T committed before T.
  // A commit follows its row's stamp, often within the same millisecond, and both reach us cut to
  // milliseconds: the replayed commit time is at or after the stamp, not strictly after it.
  const reached = atTime!.reachedTime === null ? null : Date.parse(atTime!.reachedTime);
  assert.ok(reached === null || reached <= t, `${atTime!.reachedTime} <= ${atTime!.target}`);
  const before = pitr.rows.filter((r) => r.at.getTime() <= t).at(-2);
  if (before)
    assert.ok(
      reached !== null && reached >= before.at.getTime(),
      `row ${before.id} (${before.at.toISOString()}) before T was replayed; last replayed commit ${atTime!.reachedTime}`,
    );
  for (const d of outcome.drills) {
    assert.equal(d.verifyBackup?.outcome, 'passed', `pg_verifybackup: ${d.verifyBackup?.detail}`);
    assert.equal(d.amcheck?.outcome, 'passed', `pg_amcheck: ${d.amcheck?.detail}`);
    assert.ok(
      d.figures && d.figures.walBytesReplayed! > 0 && d.figures.walBytesPerSecond! > 0,
      'WAL replayed and rate',
    );
    assert.ok(d.figures.usableAfterMs > 0 && d.figures.stagesMs.promoted !== undefined);
  }
  assert.ok(parseLsn(latest!.reachedLsn!) >= parseLsn(window.to.lsn), 'latest reached the window end as planned');

  const provenUpTo = new Date(Math.max(t, Date.parse(window.to.time))).toISOString();
  assert.equal(outcome.provenUpTo, provenUpTo);
  const rows = await runtime.catalog.servers.drillsOf('pg1');
  assert.deepEqual(
    rows.map((r) => [r.target, r.outcome, r.verifyBackup?.outcome, r.amcheck?.outcome]).reverse(),
    outcome.drills.map((d) => [d.target, 'passed', 'passed', 'passed']),
  );
  assert.ok(
    rows.every((r) => r.stepsMs.extract !== undefined && r.walBytesPerSecond! > 0),
    'step times recorded',
  );
  const after = await services.servers.show(systemActor, 'pg1');
  assert.deepEqual([after.drills.provenUpTo, after.drills.lastOutcome], [provenUpTo, 'passed']);
  await assertMetrics(pitr, provenUpTo, 1);
}

async function assertMetrics(pitr: PitrScenario, provenUpTo: string, lastPassed: number): Promise<void> {
  const { catalog } = pitr.platform.runtime;
  const metrics = createConsoleMetrics({
    status: () => Promise.reject(new Error('not read here')),
    drills: () => catalog.servers.drillSummaries(),
  });
  const text = await metrics.registry.metrics();
  const seconds = Date.parse(provenUpTo) / 1000;
  assert.match(text, new RegExp(`hindsight_pitr_drill_proven_up_to_timestamp_seconds\\{server="pg1"\\} ${seconds}\\n`));
  assert.match(text, new RegExp(`hindsight_pitr_drill_last_passed\\{server="pg1"\\} ${lastPassed}\\n`));
}

/** The segment holding the base backup's start: without it no target of the window can be recovered. */
async function deletesTheFirstSegment(pitr: PitrScenario): Promise<string> {
  const { catalog } = pitr.platform.runtime;
  const [backup] = (await catalog.wal.baseBackupsOf('drill')).filter((b) => b.status === 'complete');
  const { walSegmentSize } = await catalog.wal.config('drill');
  const name = segmentNameOfLsn(backup!.timeline!, backup!.startLsn!, walSegmentSize!);
  const segment = (await catalog.wal.segmentsOf('drill')).find((s) => s.name === name);
  assert.ok(segment?.complete, `segment ${name} (start ${formatLsn(backup!.startLsn!)}) is archived`);
  await rm(path.join(pitr.platform.backupsDir, segment.objectKey));
  return name;
}

async function aDrillFailsOnAMissingSegment(pitr: PitrScenario): Promise<void> {
  const { services, runtime } = pitr.platform;
  const before = await services.servers.show(systemActor, 'pg1');
  const notified = () =>
    runtime.catalog.pool.query<{ message: string }>(
      `select message from notifications where event = 'pitr_drill_failed' order by id`,
    );
  const earlier = (await notified()).rows.length;
  const name = await deletesTheFirstSegment(pitr);
  assert.ok(
    (await runtime.catalog.wal.segmentsOf('drill')).some((s) => s.name === name),
    'its catalog row stays',
  );
  // From the CLI as an operator runs it: a failed drill exits 1.
  const cli = await hindsight(pitr, ['server', 'drill', 'pg1', '--wait', '--json']);
  assert.equal(cli.code, 1, cli.stderr);
  const outcome = JSON.parse(cli.stdout) as PitrDrillOutcome;
  assert.equal(outcome.passed, false);
  for (const d of outcome.drills) {
    assert.equal(d.outcome, 'failed');
    assert.match(d.error ?? '', new RegExp(`storage lacks segment ${name}`), d.error ?? '');
  }
  assert.equal(outcome.provenUpTo, before.drills.provenUpTo, 'proven-up-to does not advance');
  const after = await services.servers.show(systemActor, 'pg1');
  assert.deepEqual([after.drills.provenUpTo, after.drills.lastOutcome], [before.drills.provenUpTo, 'failed']);
  const shown = await hindsight(pitr, ['server', 'show', 'pg1']);
  assert.match(
    shown.stdout,
    new RegExp(
      `^drills: 17 4 \\* \\* 0; window proven up to ${before.drills.provenUpTo}; last drill failed at .*${name}`,
      'm',
    ),
  );
  const rows = (await notified()).rows.slice(earlier);
  assert.equal(rows.length, outcome.drills.length, 'one notification per failed drill');
  assert.match(rows[0]!.message, new RegExp(`PITR drill of server "pg1" failed .*${name}`));
  await assertMetrics(pitr, before.drills.provenUpTo!, 0);
}

describe('PITR drills: a server archive restored into sandboxes and checked', () => {
  const pitr = usePitrScenario('drill', {
    writes: { forMs: 1500, everyMs: 100 },
    setUp: addsTheServerWithPitr,
  });

  it('a drill restores a seeded time inside the window and the newest point, checks and records each', () =>
    aDrillPasses(pitr));

  it('a WAL segment lost from storage: the drill fails naming it, proven-up-to stays, a notification is queued', () =>
    aDrillFailsOnAMissingSegment(pitr));

  it('drills are switched off and on with the server setting; a bad cron is refused naming the field', async () => {
    const { services } = pitr.platform;
    await assert.rejects(
      services.servers.update(systemActor, 'pg1', { pitrDrillSchedule: 'every sunday' }),
      /cron|minute|field/i,
    );
    await services.servers.update(systemActor, 'pg1', { pitrDrillSchedule: null });
    assert.deepEqual((await services.servers.drills(systemActor, 'pg1')).schedule, null);
    const schedule = () => pitr.platform.client.schedule.getHandle('pitrdrill/pg1').describe();
    await assert.rejects(schedule(), /not found/i, 'no Temporal schedule while drills are off');
    await services.servers.update(systemActor, 'pg1', { pitrDrillSchedule: '0 5 * * 1' });
    const d = await services.servers.drills(systemActor, 'pg1');
    assert.deepEqual([d.schedule, d.scheduled], ['0 5 * * 1', true]);
    assert.equal((await schedule()).scheduleId, 'pitrdrill/pg1');
  });
});
