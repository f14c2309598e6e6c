import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { connect } from '../../lib/pg/connection.ts';
import { parseLsn } from '../../lib/wal/lsn.ts';
import { shellQuote } from '../../lib/pitr/recovery-settings.ts';
import type { PitrInstructions } from '../../lib/pitr/result-instructions.ts';
import type { PitrOutcome } from '../../temporal/contracts/pitr.ts';
import { usePitrScenario } from '../support/pitr-scenario.ts';
import { waitFor } from '../support/wait.ts';

/**
 * A point-in-time restore into a directory ends with instructions, and they work as printed: the
 * psql line reads the restored rows, the pg_dump | pg_restore line copies the database into another
 * server, the stop line stops the server; with --then-stop the server is down and the start line
 * brings it back.
 */
const run = promisify(execFile);

describe('point-in-time restore: the printed instructions work', () => {
  // PostgreSQL 15: the version whose client tools (psql, pg_dump, pg_restore) the test hosts install.
  const pitr = usePitrScenario('shop', { major: 15, writes: { forMs: 3_000, everyMs: 200 } });

  const hindsight = (args: string[]) =>
    run(process.execPath, [path.resolve('bin/hindsight.mjs'), ...args], {
      env: { ...process.env, ...pitr.platform.configEnv },
    });
  /** Runs a printed command line as an operator would, with the source role's password at hand. */
  const shell = (line: string) =>
    run('sh', ['-c', line], { env: { ...process.env, PGPASSWORD: pitr.source.target.password ?? '' } });
  const rowCount = async (psql: string) =>
    Number((await shell(`${psql} -tAc 'select count(*) from events'`)).stdout.trim());
  const accepts = async (port: number) => {
    const client = await connect('probe', { ...pitr.source.target, host: '127.0.0.1', port, sslmode: 'disable' }).catch(
      () => null,
    );
    await client?.end();
    return client !== null;
  };

  it('--json: the printed psql reads the rows, pg_dump | pg_restore copies them out, and the printed stop stops it', async () => {
    const dir = pitr.restoredDir('restored-running');
    const { stdout } = await hindsight(['restore', 'shop', '--latest', '--to', dir, '--wait', '--json']);
    const outcome = JSON.parse(stdout) as PitrOutcome & { instructions: PitrInstructions };
    const i = outcome.instructions;
    assert.deepEqual(i.listening, { host: '127.0.0.1', port: outcome.port, dataDirectory: dir, postgresVersion: 15 });
    assert.equal(i.running, true);
    assert.ok(!i.connectionUrl.includes(pitr.source.target.password!), 'no password in the URL');
    assert.equal(await rowCount(i.psql), pitr.rows.length, 'every committed row, read through the printed psql');
    // The measured figures: WAL from the base backup's start (as the catalog records it) to the end of recovery.
    const base = await pitr.platform.runtime.catalog.wal.getBaseBackup(outcome.baseBackupId);
    const f = outcome.figures!;
    assert.equal(f.walBytesReplayed, Number(parseLsn(outcome.reachedLsn) - base.startLsn!));
    const { start, consistent, promoted } = f.stagesMs;
    assert.equal(f.recoveryMs, (start ?? 0) + (consistent ?? 0) + (promoted ?? 0));
    assert.equal(f.walBytesPerSecond, Math.round((f.walBytesReplayed! * 1000) / f.recoveryMs));
    assert.ok(f.usableAfterMs > f.recoveryMs && f.totalMs >= f.usableAfterMs, JSON.stringify(f));

    await pitr.source.query('create database copied');
    const production = `postgresql://${pitr.source.target.user}@127.0.0.1:${pitr.source.target.port}/copied?sslmode=disable`;
    await shell(
      i.copyToProduction.replace(shellQuote('--dbname=<production-url>'), shellQuote(`--dbname=${production}`)),
    );
    assert.equal(await rowCount(`psql ${shellQuote(production)}`), pitr.rows.length, 'the copy holds every row');

    await shell(i.stop!);
    assert.equal(await accepts(outcome.port!), false, 'the printed stop stopped the server');
    assert.equal(await rowCount(i.psql).catch(() => 'refused'), 'refused');
  });

  it('--then-stop: the server is down once the restore ends, and the printed start brings it back', async () => {
    const dir = pitr.restoredDir('restored-stopped');
    const { stdout } = await hindsight(['restore', 'shop', '--latest', '--to', dir, '--then-stop', '--wait']);
    const port = Number(/stopped, kept for 127\.0\.0\.1:(\d+) from /.exec(stdout)?.[1]);
    assert.ok(port > 0, stdout);
    assert.match(stdout, new RegExp(`^PostgreSQL 15 is stopped .* data directory ${dir}$`, 'm'));
    assert.doesNotMatch(stdout, /^stop:/m);
    assert.match(
      stdout,
      /^measured: usable after \d+\.\d s \(destination .*promoted .*\); WAL replayed .+ at .+\/s over \d+\.\d s of recovery$/m,
    );
    assert.equal(await accepts(port), false, 'no server listens after --then-stop');

    const start = /^start: +(.+)$/m.exec(stdout)![1]!;
    const psql = /^connect: +(.+)$/m.exec(stdout)![1]!;
    await shell(start);
    await waitFor('the restarted server', async () => ((await accepts(port)) ? true : undefined), 30_000, 200);
    assert.equal(await rowCount(psql), pitr.rows.length, 'the kept directory starts again with every row');
  });
});
