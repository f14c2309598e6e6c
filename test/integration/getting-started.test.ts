/**
 * docs/getting-started.md, followed to the letter: every runnable block of the guide runs in order
 * in one bash session beside a real platform (catalog, Temporal dev server, worker), a real
 * PostgreSQL 15 source and moto's S3. Each block must exit as the guide says, print what the guide
 * shows, and where the guide restores, the restored tables must hold the source's rows.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it, type TestContext } from 'node:test';
import { parseGuide, type GuideBlock } from '../support/guide-markdown.ts';
import { matchOutput } from '../support/guide-match.ts';
import { startGuideWorld, tableHashes, type GuideWorld, type TableHashes } from '../support/guide-platform.ts';
import { GuideShell, type BlockResult } from '../support/guide-runner.ts';

const guide = parseGuide(await readFile('docs/getting-started.md', 'utf8'));

/** HINDSIGHT_GUIDE_OUTPUT=1 shows what each block printed: the material of the guide's output blocks. */
const showOutput = process.env.HINDSIGHT_GUIDE_OUTPUT === '1';

/** A check the test makes around the guide's block that runs a given command. */
interface Check {
  what: string;
  at: RegExp;
  before?: () => Promise<void>;
  after?: (result: BlockResult) => Promise<void>;
  ran?: boolean;
}

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

/** Runs one block with the checks around it: its exit code and its output must be what the guide says. */
async function runBlock(shell: GuideShell, block: GuideBlock, checks: Check[], t: TestContext): Promise<void> {
  const found = checks.filter((c) => c.at.test(block.code));
  for (const check of found) await check.before?.();
  const result = await shell.run(block);
  if (showOutput) t.diagnostic(`exit ${result.code}\n${result.output}`);
  const where = `guide line ${block.line}`;
  if (block.fails) assert.notEqual(result.code, 0, `${where} is shown failing, but exited 0:\n${result.output}`);
  else assert.equal(result.code, 0, `${where} exited ${result.code}:\n${result.output}`);
  if (block.output) {
    const match = matchOutput(block.output.text, result.output);
    assert.ok(match.ok, `${where}, output at line ${block.output.line}: ${match.ok ? '' : match.message}`);
  }
  for (const check of found) {
    await check.after?.(result);
    check.ran = true;
  }
}

describe('docs/getting-started.md, every command run', () => {
  let world: GuideWorld;
  let shell: GuideShell;
  let failedAt: number | undefined;
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

  for (const block of guide.blocks) {
    const title = `line ${block.line}: ${block.code.split('\n').find((l) => l.trim() && !l.startsWith('#'))}`;
    it(title, async (t) => {
      if (failedAt !== undefined) return t.skip(`the block at line ${failedAt} failed, and this one follows from it`);
      try {
        await runBlock(shell, block, checks, t);
      } catch (error) {
        failedAt = block.line;
        throw error;
      }
    });
  }

  it('made every data check at the block it belongs to', (t) => {
    if (failedAt !== undefined) return t.skip(`the block at line ${failedAt} failed`);
    assert.deepEqual(
      checks.filter((c) => !c.ran).map((c) => c.what),
      [],
      'the guide no longer runs the command these checks follow',
    );
  });
});
