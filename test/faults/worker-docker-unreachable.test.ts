/**
 * The worker process when the Docker engine is stopped: DOCKER_HOST names a socket that accepts
 * connections and never answers, as a hung or stopping dockerd does. `auto` waits its bounded
 * time, logs why it does not use docker, and the worker backs up and verifies with the process
 * driver. (With the engine running: test/docker/worker-docker.test.ts.)
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { targetUrl, type PgTarget } from '../../lib/pg/connection.ts';
import { runtimeWarnings } from '../../scripts/runtime-warnings.ts';
import type { Platform } from '../support/platform.ts';
import { startSeededPlatform } from '../support/seeded-platform.ts';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process.ts';

describe('the worker process with the Docker engine unreachable', () => {
  let platform: Platform;
  let silent: net.Server;
  let socket: string;
  let worker: WorkerProcess | undefined;
  const connections = new Set<net.Socket>();

  before(async () => {
    const rows =
      'create table t (id int primary key, v text); insert into t select g, md5(g::text) from generate_series(1, 300) g';
    let source: PgTarget;
    // The worker is a process of its own, started by the test.
    ({ platform, source } = await startSeededPlatform('shop', rows, { worker: false }));
    socket = path.join(platform.dir, 'docker.sock');
    silent = net.createServer((connection) => {
      connections.add(connection.on('error', () => undefined));
    });
    silent.listen(socket);
    await once(silent, 'listening');
    await platform.ops.addDatabase({ name: 'shop', url: targetUrl(source), verifyAfterBackup: false });
  });
  after(async () => {
    await worker?.stop();
    for (const connection of connections) connection.destroy();
    silent?.close();
    await platform?.stop();
  });

  it('starts, logs the process driver and why, backs up and verifies', async () => {
    worker = await startWorkerProcess({
      ...platform.configEnv,
      HINDSIGHT_SANDBOX_DRIVER: 'auto',
      DOCKER_HOST: `unix://${socket}`,
    });
    assert.ok(connections.size > 0, 'the worker did try the socket');
    const fallback = worker.logs.find((l) => l.dockerSocket === socket);
    assert.ok(fallback, `the worker says why it does not use docker:\n${JSON.stringify(worker.logs)}`);
    assert.match(String(fallback.reason), /did not answer within 20 s|no Docker engine answers/);
    assert.equal(worker.entry('verification sandbox driver')?.driver, 'process');

    const { backupId } = await (await platform.ops.startBackup('shop')).result();
    const v = await (await platform.ops.requestVerification('shop', { backupId })).finished(180_000);
    assert.equal(v.status, 'successful', v.reason ?? '');
    assert.equal(v.report!.sandbox?.driver, 'process');
    assert.equal(v.report!.restoredRows, 300);

    await worker.stop();
    assert.deepEqual(worker.stderr.flatMap(runtimeWarnings), [], worker.stderr.join('\n'));
  });
});
