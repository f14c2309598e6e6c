/**
 * The worker process with the Docker engine running: `auto` takes the docker driver, says so in
 * its log, backs up, and verifies in a container. (With the engine unreachable:
 * test/faults/worker-docker-unreachable.test.ts.)
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { connect, targetUrl } from '../../lib/pg/connection.ts';
import { runtimeWarnings } from '../../scripts/runtime-warnings.ts';
import { createDatabase, startPlatform, type Platform } from '../support/platform.ts';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process.ts';
import { containersLabelled, ensureSandboxImages } from './support.ts';

describe('the worker process with the Docker engine running', () => {
  let platform: Platform;
  let worker: WorkerProcess | undefined;

  before(async () => {
    await ensureSandboxImages();
    platform = await startPlatform();
    const source = await createDatabase(platform.cluster, 'shop');
    const client = await connect('shop', source);
    await client
      .query(
        'create table t (id int primary key, v text); insert into t select g, md5(g::text) from generate_series(1, 500) g',
      )
      .finally(() => client.end());
    await platform.ops.addDatabase({ name: 'shop', url: targetUrl(source), verifyAfterBackup: false });
  });
  after(async () => {
    await worker?.stop();
    await platform?.stop();
  });

  it('chooses docker, logs it, backs up and verifies in a container that is gone afterwards', async () => {
    // The engine's own socket (no DOCKER_HOST), as on a host where dockerd runs.
    worker = await startWorkerProcess({
      ...platform.configEnv,
      HINDSIGHT_SANDBOX_DRIVER: 'auto',
      DOCKER_HOST: undefined,
    });
    assert.equal(worker.entry('verification sandbox driver')?.driver, 'docker', JSON.stringify(worker.logs));
    assert.equal(
      worker.logs.find((l) => String(l.msg).includes('cannot use it')),
      undefined,
      'no fallback',
    );
    assert.equal(worker.entry('verification sandbox confinement')?.confinement, 'container');

    const { backupId } = await (await platform.ops.startBackup('shop')).result();
    assert.ok(backupId);
    const v = await (await platform.ops.requestVerification('shop', { backupId })).finished(180_000);
    assert.equal(v.status, 'successful', v.reason ?? '');
    assert.equal(v.report!.sandbox?.driver, 'docker');
    assert.equal(v.report!.restoredRows, 500);
    assert.deepEqual(
      await containersLabelled(`hindsight.owner.pid=${worker.child.pid}`),
      [],
      "the worker's sandbox container is gone",
    );
    assert.deepEqual(
      (await readdir(platform.config.sandboxRoot).catch(() => [])).filter((name) => name.startsWith('dsbx-')),
      [],
      'and its socket directory',
    );

    await worker.stop();
    assert.deepEqual(worker.stderr.flatMap(runtimeWarnings), [], worker.stderr.join('\n'));
  });
});
