import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeOutcome, pitrInputFromFlags } from '../../cli/pitr-restore.ts';
import { pitrRestoreInput, type PitrOutcome } from '../../temporal/contracts/pitr.ts';

const url = 'postgres://app:s3cret@db2.example:5432/reports_copy';

describe('hindsight restore --time … --to <postgres-url>', () => {
  it('extracts into the URL, with owners only when asked; the service seals the password later', () => {
    assert.deepEqual(pitrInputFromFlags('reports', { time: '2026-11-23T10:00:00Z', to: url }).to, { url });
    assert.deepEqual(pitrInputFromFlags('reports', { latest: true, to: url, 'with-owners': true }).to, {
      url,
      withOwners: true,
      privilegedRoles: false,
    });
  });

  it('refuses what applies to a directory, and owners flags without a URL', () => {
    assert.throws(() => pitrInputFromFlags('reports', { latest: true, to: url, 'then-stop': true }), /--then-stop/);
    assert.throws(() => pitrInputFromFlags('reports', { latest: true, to: url, agent: 'db1' }), /--agent/);
    assert.throws(
      () => pitrInputFromFlags('reports', { latest: true, to: '/srv/r', 'with-owners': true }),
      /--with-owners applies to a point-in-time restore into a postgres:\/\/ URL/,
    );
    assert.throws(
      () => pitrInputFromFlags('reports', { latest: true, to: url, 'with-privileged-roles': true }),
      /only with --with-owners/,
    );
  });

  it('the workflow input takes the URL only without its password, and never a system database', () => {
    const input = (to: unknown) => pitrRestoreInput.safeParse({ database: 'reports', target: 'latest', to });
    assert.equal(input({ url: 'postgres://app@db2.example/reports_copy', sealedPassword: 'v1.x' }).success, true);
    assert.equal(input({ url }).success, false, 'a password in clear would sit in workflow history');
    assert.equal(input({ url: 'postgres://app@db2.example/template1' }).success, false);
    assert.equal(
      input({ url: 'postgres://app@db2.example/reports_copy', privilegedRoles: true }).success,
      false,
      'privileged roles only with owners',
    );
  });

  it('reports the point reached, what was copied where, and how long it took', () => {
    const outcome = {
      database: 'reports',
      baseBackupId: 'b1',
      timeline: 1,
      reachedLsn: '0/30007C8',
      lastTransactionTime: '2026-11-23T10:00:00.000Z',
      newTimeline: 2,
      dataDirectory: null,
      port: null,
      kept: false,
      note: null,
      segmentsFetched: 2,
      extracted: {
        target: 'app@db2.example:5432/reports_copy',
        created: true,
        bytes: 5335,
        tables: 2,
        rows: 51,
        durationMs: 1022,
        ownership: { mode: 'without-owners', created: [], existed: [], skipped: [] },
      },
    } satisfies PitrOutcome;
    const text = describeOutcome(outcome);
    assert.match(
      text,
      /^extracted "reports" at LSN 0\/30007C8 \(last transaction committed at 2026-11-23T10:00:00.000Z\)/,
    );
    assert.match(
      text,
      /into app@db2\.example:5432\/reports_copy \(created\): 2 table\(s\), 51 row\(s\), 5335 bytes of dump in 1\.0 s/,
    );
    assert.match(text, /not restored \(--no-owner\)/);
  });
});
