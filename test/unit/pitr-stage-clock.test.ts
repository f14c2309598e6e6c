import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stageClock } from '../../lib/pitr/stage-clock.ts';
import { serverPhases } from '../../bench/pitr-vs-pgbackrest/server-log.ts';

describe('restore stage clock', () => {
  it('times each stage from the previous mark, keeps a stage’s first mark, and sums them', () => {
    let now = 1000;
    const clock = stageClock(() => now);
    now += 40;
    clock.mark('destination');
    now += 2500;
    clock.mark('extract');
    now += 10;
    clock.mark('extract');
    now += 300;
    clock.mark('configure');
    assert.deepEqual(clock.report(), {
      stagesMs: { destination: 40, extract: 2500, configure: 310 },
      totalMs: 2850,
    });
  });
});

describe('restored server log phases', () => {
  it('reads start-up, redo and the end of recovery of the last start, from the default log_line_prefix', () => {
    const log = [
      '2026-12-07 08:30:00.000 UTC [9] LOG:  starting PostgreSQL 17.10',
      '2026-12-07 08:30:01.000 UTC [9] LOG:  redo done at 0/1000000',
      '2026-12-07 08:32:45.100 UTC [10] LOG:  starting PostgreSQL 17.10',
      '2026-12-07 08:32:45.900 UTC [12] LOG:  starting archive recovery',
      '2026-12-07 08:32:46.050 UTC [12] LOG:  restored log file "000000010000000000000003" from archive',
      '2026-12-07 08:32:46.100 UTC [12] LOG:  redo starts at 0/3000028',
      '2026-12-07 08:32:46.200 UTC [12] LOG:  restored log file "000000010000000000000004" from archive',
      '2026-12-07 08:32:47.600 UTC [12] LOG:  redo done at 0/4001C18 system usage: CPU: user: 0.10 s',
      '2026-12-07 08:32:48.350 UTC [10] LOG:  database system is ready to accept connections',
    ].join('\n');
    assert.deepEqual(serverPhases(log), { startupMs: 1000, redoMs: 1500, endOfRecoveryMs: 750, walFiles: 2 });
  });

  it('leaves out what the log does not show', () => {
    assert.deepEqual(serverPhases('no timestamps here\n'), {
      startupMs: null,
      redoMs: null,
      endOfRecoveryMs: null,
      walFiles: 0,
    });
  });
});
