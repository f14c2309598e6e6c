/**
 * A recovery that hangs is stopped, not waited on for a day: a real PostgreSQL server in archive
 * recovery whose restore_command never answers (a `sleep`) shows no progress, and runRecovery
 * stops it and names what to check.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { progressLines, recoveryServer, runRecovery, stallWatch } from '../../lib/pitr/recover.ts';
import { recoverySettings, writeRecoverySettings } from '../../lib/pitr/recovery-settings.ts';
import { configureRestoredServer, listenFor } from '../../lib/pitr/restored-server.ts';
import { canSwitchUser, sandboxOsUser } from '../../lib/sandbox/os-user.ts';
import { startTestCluster } from '../support/platform.ts';
import { freePort } from '../support/ports.ts';

const run = promisify(execFile);

describe('a recovery that makes no progress', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('counts from the last change of what it watches', () => {
    let now = 0;
    const watch = stallWatch(1000, () => now);
    assert.equal(watch.observe('a'), false);
    now = 900;
    assert.equal(watch.observe('a'), false);
    now = 1000;
    assert.equal(watch.observe('a'), true, 'unchanged for the whole period');
    assert.equal(watch.observe('b'), false, 'a change starts the period again');
    now = 1999;
    assert.equal(watch.observe('b'), false);
    now = 2000;
    assert.equal(watch.observe('b'), true);
    const log = [
      'LOG:  starting archive recovery',
      'FATAL:  the database system is starting up',
      'FATAL:  the database system is not yet accepting connections',
      'DETAIL:  Consistent recovery state has not been yet reached.',
      'LOG:  restored log file "000000010000000000000003" from archive',
    ].join('\n');
    assert.equal(progressLines(log), 2, 'refusals of our own polling are not progress; a restored segment is');
  });

  it('stops a server whose restore_command hangs, and says what to check', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'hindsight-stall-'));
    dirs.push(dir);
    await chmod(dir, 0o755);
    const cluster = await startTestCluster(dir);
    const connectAs = cluster.target('postgres');
    await cluster.stop('fast');
    // Restored servers run as the sandbox user, as after a real extraction.
    if (canSwitchUser()) await run('chown', ['-R', `${sandboxOsUser()}:`, cluster.dataDir]);
    const port = await freePort();
    const configured = await configureRestoredServer({
      dataDir: cluster.dataDir,
      port,
      listen: listenFor({ sandboxDir: null, dataDir: cluster.dataDir, port }),
    });
    // The archive never answers: each fetch sleeps longer than the test waits.
    await writeRecoverySettings(
      cluster.dataDir,
      configured.settings,
      recoverySettings({ target: 'latest', timeline: 1, restoreCommand: 'sleep 30' }),
    );
    const server = await recoveryServer(cluster.dataDir, port, configured.host);
    const startedAt = Date.now();
    await assert.rejects(runRecovery(server, { connectAs, stallMs: 3000 }), (error: Error) =>
      /made no progress for 3 s .*and was stopped: check that restore_command can fetch WAL/.test(error.message),
    );
    assert.ok(Date.now() - startedAt < 25_000, 'stopped long before the fetch would have returned');
    assert.equal(await server.running(), false, 'the stuck server was stopped');
  });
});
