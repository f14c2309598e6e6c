/**
 * A verification agent (the worker process) SIGKILLed while its sandbox server restores a backup: the sandbox
 * server dies with it, the next worker removes the orphaned directory on start, and the verification, retried by
 * Temporal, succeeds.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, targetUrl } from '../../lib/pg/connection.ts';
import { createDatabase, startPlatform, type Platform } from '../support/platform.ts';
import { processesOf } from '../support/processes.ts';
import { waitFor } from '../support/wait.ts';

describe('a verification agent killed mid-restore', () => {
  let platform: Platform;
  let worker: ChildProcess | undefined;
  const log: string[] = [];

  const startWorkerProcess = () => {
    const child = spawn(process.execPath, [path.resolve('worker/main.ts')], {
      env: { ...process.env, ...platform.configEnv, HINDSIGHT_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => log.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => log.push(d.toString()));
    return child;
  };

  before(async () => {
    platform = await startPlatform();
    const source = await createDatabase(platform.cluster, 'bulky');
    const client = await connect('bulky', source);
    // Large enough that the restore takes a few seconds, so the kill lands during it.
    await client.query(`create table t (id int primary key, a text, b text);
      insert into t select g, md5(g::text), md5((g * 3)::text) from generate_series(1, 600000) g;`);
    await client.end();
    await platform.ops.addDatabase({ name: 'bulky', url: targetUrl(source), verifyAfterBackup: false });
  });

  after(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    await platform?.stop();
  });

  it('takes its sandbox server down with it; the next worker removes the directory on start', async () => {
    worker = startWorkerProcess();
    const outcome = await (await platform.ops.startBackup('bulky')).result();
    const requested = await platform.ops.requestVerification('bulky', { backupId: outcome.backupId });
    const root = platform.config.sandboxRoot;
    const sandbox = await waitFor(
      'a sandbox restoring',
      async () => {
        const v = await platform.runtime.catalog.verifications.get(requested.verificationId);
        if (!v.report?.stages.some((s) => s.stage === 'restore')) return undefined;
        const dirs = (await readdir(root).catch(() => [] as string[])).filter((n) => n.startsWith('sbx-'));
        if (dirs.length !== 1) return undefined;
        const owner = JSON.parse(await readFile(path.join(root, dirs[0]!, 'owner.json'), 'utf8')) as {
          serverPid?: number;
        };
        return owner.serverPid ? { dir: dirs[0]!, serverPid: owner.serverPid } : undefined;
      },
      120_000,
    );
    worker.kill('SIGKILL');
    await new Promise((r) => worker!.once('exit', r));
    assert.ok((await readdir(root)).includes(sandbox.dir), 'the killed worker left its sandbox directory behind');
    // Nothing hostile outlives the worker: bwrap's --die-with-parent (or PR_SET_PDEATHSIG) ends the server.
    await waitFor(
      'the server to die with its worker',
      async () => ((await processesOf(path.join(root, sandbox.dir))).length === 0 ? true : undefined),
      15_000,
    );

    worker = startWorkerProcess();
    await waitFor(
      'the leftover sandbox to be removed',
      async () => ((await readdir(root)).includes(sandbox.dir) ? undefined : true),
      60_000,
    );
    // The verification itself is retried by Temporal on the new worker and completes.
    const v = await requested.finished(180_000);
    assert.equal(v.status, 'successful', `${v.reason}\n${log.join('').slice(-2000)}`);
  });
});
