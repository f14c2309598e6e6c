/**
 * docs/getting-started.md, followed to the letter: every runnable block of the guide runs in order
 * in one bash session beside a real platform (catalog, Temporal dev server, worker), a real
 * PostgreSQL 15 source and moto's S3. Each block must exit as the guide says, print what the guide
 * shows, and where the guide restores, the restored tables must hold the source's rows.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { itRunsEveryBlock, type Check } from '../support/guide-checks.ts';
import { parseGuide } from '../support/guide-markdown.ts';
import { startGuideWorld, tableHashes, type GuideWorld, type TableHashes } from '../support/guide-platform.ts';
import { GuideShell } from '../support/guide-runner.ts';

const guide = parseGuide(await readFile('docs/getting-started.md', 'utf8'));

/** The data checks: a restore holds the source's rows, as they were at the point it restored. */
function dataChecks(world: () => GuideWorld): Check[] {
  let beforeMistake: TableHashes;
  return [
    {
      what: 'the restored database holds every row of the source',
      at: /hindsight restore shop --backup/,
      after: async () => {
        const restored = await tableHashes(world().databaseOnSource('shop_restored'));
        assert.ok(Object.keys(restored).length >= 2, 'the source has tables to compare');
        assert.deepEqual(restored, await tableHashes(world().source.target));
      },
    },
    {
      what: 'the mistake changes the source',
      at: /delete from/,
      before: async () => {
        beforeMistake = await tableHashes(world().source.target);
      },
      after: async () => {
        assert.notDeepEqual(await tableHashes(world().source.target), beforeMistake);
      },
    },
    {
      what: 'the point-in-time restore holds the rows as they were before the mistake',
      at: /hindsight restore shop --time/,
      after: async (result) => {
        const port = Number(/running on 127\.0\.0\.1:(\d+) /.exec(result.output)?.[1]);
        assert.ok(port > 0, `the restore names the port of the restored server:\n${result.output}`);
        const restored = await tableHashes({ ...world().source.target, host: '127.0.0.1', port, sslmode: 'disable' });
        assert.deepEqual(restored, beforeMistake);
      },
    },
  ];
}

describe('docs/getting-started.md, every command run', () => {
  let world: GuideWorld;
  let shell: GuideShell;
  const checks = dataChecks(() => world);

  before(async () => {
    world = await startGuideWorld();
    shell = new GuideShell(world.dir, await world.shellEnv());
    await shell.start();
  });

  after(async () => {
    await world?.stop();
  });

  it('asks the reader for exactly the values the test sets', () => {
    assert.deepEqual([...guide.settings].sort(), Object.keys(world.settings).sort());
  });

  itRunsEveryBlock(guide, () => shell, checks);
});
