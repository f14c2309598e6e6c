import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { parseSecretKeyFile } from '../../lib/crypto/secret-key.ts';
import { hindsightDataConverter } from '../../temporal/client.ts';
import { workflowsPath } from '../../worker/create-worker.ts';

/**
 * Replays committed histories against today's workflow code: a change that would break workflows
 * already running in production (non-determinism) fails here, not on a user's server.
 */
describe('workflow replay over committed histories', () => {
  // Runs started by version 0.1 (one storage, no verification, no payload codec) must still replay.
  for (const name of ['backupDatabase', 'restoreBackup']) {
    it(`a ${name} run of version 0.1 replays on today's code`, async () => {
      try { Runtime.install({ logger: new DefaultLogger('WARN') }); } catch { /* already installed */ }
      const history = JSON.parse(await readFile(path.join('test/histories/v0.1', `${name}.json`), 'utf8'));
      assert.ok(history.events.length > 5, 'the history holds a whole run');
      const key = parseSecretKeyFile(await readFile('test/histories/history.key', 'utf8'), 'test/histories/history.key');
      await Worker.runReplayHistory({ workflowsPath, dataConverter: hindsightDataConverter({ key, previousKeys: [] }) }, history, `${name}-v0.1-replay`);
    });
  }

  for (const name of ['backupDatabase', 'restoreBackup', 'restoreVerifier', 'gfsRetention', 'healthMonitor']) {
    it(`${name} replays deterministically`, async () => {
      try { Runtime.install({ logger: new DefaultLogger('WARN') }); } catch { /* already installed */ }
      const history = JSON.parse(await readFile(path.join('test/histories', `${name}.json`), 'utf8'));
      assert.ok(history.events.length > 5, 'the history holds a whole run');
      const key = parseSecretKeyFile(await readFile('test/histories/history.key', 'utf8'), 'test/histories/history.key');
      await Worker.runReplayHistory({ workflowsPath, dataConverter: hindsightDataConverter({ key, previousKeys: [] }) }, history, `${name}-replay`);
    });
  }
});
