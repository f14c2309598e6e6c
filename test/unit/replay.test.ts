import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { generateSecretKey, parseSecretKeyFile } from '../../lib/crypto/secret-key.ts';
import { hindsightDataConverter } from '../../temporal/client.ts';
import { EncryptionCodec } from '../../temporal/codec.ts';
import { cachedWorkflowBundle } from '../support/workflow-bundle.ts';

/**
 * Replays committed histories against today's workflow code: a change that would break workflows
 * already running in production (non-determinism) fails here, not on a user's server.
 */
// The bundle every replay shares (built once per state of the sources, as the other suites' workers use).
const { failureConverterPath } = hindsightDataConverter({ key: generateSecretKey(), previousKeys: [] });

describe('workflow replay over committed histories', () => {
  // Runs started by earlier versions must still replay: 0.1 (one storage, no verification, no
  // payload codec: its plaintext payloads are refused since) and 0.2 (before hook scripts and
  // notifications).
  const earlier: Array<[string, string[]]> = [
    ['v0.1', ['backupDatabase', 'restoreBackup']],
    ['v0.2', ['backupDatabase', 'restoreBackup', 'restoreVerifier', 'gfsRetention', 'healthMonitor']],
  ];
  for (const [version, names] of earlier) {
    for (const name of names) {
      it(`a ${name} run of version ${version.slice(1)} replays on today's code`, async () => {
        try {
          Runtime.install({ logger: new DefaultLogger('WARN') });
        } catch {
          /* already installed */
        }
        const history = JSON.parse(await readFile(path.join('test/histories', version, `${name}.json`), 'utf8'));
        assert.ok(history.events.length > 5, 'the history holds a whole run');
        const key = parseSecretKeyFile(
          await readFile('test/histories/history.key', 'utf8'),
          'test/histories/history.key',
        );
        if (version !== 'v0.1') {
          await Worker.runReplayHistory(
            {
              workflowBundle: await cachedWorkflowBundle(failureConverterPath),
              dataConverter: hindsightDataConverter({ key, previousKeys: [] }),
            },
            history,
            `${name}-${version}-replay`,
          );
          return;
        }
        // 0.1 wrote plaintext payloads: today's worker refuses such a run (drain 0.1 runs before
        // upgrading), while the workflow code itself still replays it.
        await assert.rejects(
          Worker.runReplayHistory(
            {
              workflowBundle: await cachedWorkflowBundle(failureConverterPath),
              dataConverter: hindsightDataConverter({ key, previousKeys: [] }),
            },
            history,
            `${name}-${version}-refused`,
          ),
          /not encrypted with this installation's key/,
        );
        const lenient = { payloadCodecs: [new EncryptionCodec(key, [], { plaintext: 'pass' })] };
        await Worker.runReplayHistory(
          { workflowBundle: await cachedWorkflowBundle(undefined), dataConverter: lenient },
          history,
          `${name}-${version}-replay`,
        );
      });
    }
  }

  for (const name of [
    'backupDatabase',
    'restoreBackup',
    'restoreVerifier',
    'gfsRetention',
    'healthMonitor',
    'deliverNotifications',
    'backupWatchdog',
    'walArchiver',
    'baseBackup',
    'walChainMonitor',
    'pitrRestore',
  ]) {
    it(`${name} replays deterministically`, async () => {
      try {
        Runtime.install({ logger: new DefaultLogger('WARN') });
      } catch {
        /* already installed */
      }
      const history = JSON.parse(await readFile(path.join('test/histories', `${name}.json`), 'utf8'));
      assert.ok(history.events.length > 5, 'the history holds a whole run');
      const key = parseSecretKeyFile(
        await readFile('test/histories/history.key', 'utf8'),
        'test/histories/history.key',
      );
      await Worker.runReplayHistory(
        {
          workflowBundle: await cachedWorkflowBundle(failureConverterPath),
          dataConverter: hindsightDataConverter({ key, previousKeys: [] }),
        },
        history,
        `${name}-replay`,
      );
    });
  }
});
