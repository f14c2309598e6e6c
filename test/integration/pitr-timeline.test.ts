import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { createStorageDriver } from '../../lib/storage/index.ts';
import { restoredRows, takeBaseBackup, waitUntilArchived, writeRows, type Row } from '../support/pitr-fixture.ts';
import { usePitrScenario } from '../support/pitr-scenario.ts';
import {
  extractReferenceDecryptor,
  pythonWithCryptography,
  runReferenceDecryptor,
} from '../support/reference-decryptor.ts';

/**
 * A timeline switch: the database is restored to latest and promoted (timeline 2), the database is
 * pointed at the promoted server, and archiving goes on there. The chain follows 00000002.history
 * from the timeline-1 base backup onto timeline 2, and a restore to a time on timeline 2 works.
 */
describe('point-in-time restore across a timeline switch', () => {
  let onTimeline1: Row[] = [];
  let onTimeline2: Row[] = [];

  const pitr = usePitrScenario('app', {
    chainMonitor: true,
    setUp: async (scenario) => {
      const { platform, source } = scenario;
      await takeBaseBackup(platform, 'app', 'on-timeline-1');
      onTimeline1 = await writeRows(source, 2000, 100, 'timeline 1');
      await waitUntilArchived(platform, source);
      // Fail over: the copy restored to latest is promoted and becomes the database.
      const { outcome, promoted } = await scenario.failOver('promoted', 'failover');
      assert.equal(outcome.newTimeline, 2);
      onTimeline2 = await writeRows(promoted, 3000, 100, 'timeline 2');
      await waitUntilArchived(platform, promoted, 60_000);
    },
  });

  it('archives the history file and the chain follows it from the timeline-1 base backup onto timeline 2', async () => {
    const histories = await pitr.platform.runtime.catalog.wal.historiesOf('app');
    assert.deepEqual(
      histories.map((h) => h.timeline),
      [2],
    );
    assert.match(histories[0]!.content, /^1\t[0-9A-F]+\/[0-9A-F]+\t/);
    const state = (await pitr.chainMonitorUntil('a chain', (s) => Boolean(s.last), 20_000)).last!;
    assert.deepEqual(state.gaps, [], JSON.stringify(state.gaps));
    const t2 = state.windows.find((w) => w.timeline === 2);
    assert.ok(t2, `a window on timeline 2: ${JSON.stringify(state.windows)}`);
    assert.deepEqual(
      t2.legs.map((l) => l.timeline),
      [1, 2],
    );
    assert.ok(new Date(t2.to.time) >= onTimeline2.at(-1)!.at);
  });

  it('the documented decryptor reads the archived history file to what the catalog recorded', async (t) => {
    const python = await pythonWithCryptography();
    if (!python) {
      t.skip('no Python with the cryptography package (neither .venv/bin/python nor python3 has it)');
      return;
    }
    const { platform } = pitr;
    const [history] = await platform.runtime.catalog.wal.historiesOf('app');
    const driver = createStorageDriver('local', await platform.runtime.catalog.storageConfig(history!.storageName));
    const dir = await mkdtemp(path.join(platform.dir, 'history-'));
    const stored = path.join(dir, 'history.hsb');
    await pipeline(await driver.openRead(history!.objectKey), createWriteStream(stored));
    const decryptor = { python, script: await extractReferenceDecryptor(dir), keyFile: platform.config.secretKeyFile };
    await runReferenceDecryptor(decryptor, stored, path.join(dir, 'history'), history!.objectKey);
    assert.equal(await readFile(path.join(dir, 'history'), 'utf8'), history!.content);
  });

  it('restores to a time on timeline 2 from the timeline-1 base backup', async () => {
    const k = Math.floor(onTimeline2.length / 2);
    const t = new Date((onTimeline2[k - 1]!.at.getTime() + onTimeline2[k]!.at.getTime()) / 2);
    const { outcome } = await pitr.restoreToTime('on-timeline-2', t, 'timeline-2');
    assert.equal(outcome.timeline, 2);
    assert.equal(outcome.newTimeline, 3, 'the history file of timeline 2 was found: the copy promotes onto 3');
    const ids = new Set((await restoredRows(pitr.source, outcome.port!)).map((r) => r.id));
    assert.ok(
      onTimeline1.every((r) => ids.has(r.id)),
      'every timeline-1 row',
    );
    assert.ok(ids.has(onTimeline2[k - 1]!.id));
    assert.ok(!ids.has(onTimeline2[k]!.id));
  });
});
