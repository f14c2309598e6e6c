/**
 * Runs a guide's blocks with the test's own checks around them (CONTRIBUTING.md, "A guide whose
 * commands run"): each block must exit as the guide says and print what the guide shows, and a
 * check registered for the block that runs a given command looks at the world before and after it.
 */
import assert from 'node:assert/strict';
import { it, type TestContext } from 'node:test';
import type { Guide, GuideBlock } from './guide-markdown.ts';
import { matchOutput } from './guide-match.ts';
import type { BlockResult, GuideShell } from './guide-runner.ts';

/** HINDSIGHT_GUIDE_OUTPUT=1 shows what each block printed: the material of the guide's output blocks. */
const showOutput = process.env.HINDSIGHT_GUIDE_OUTPUT === '1';

/** A check the test makes around the guide's block that runs a given command. */
export interface Check {
  what: string;
  at: RegExp;
  before?: () => Promise<void>;
  after?: (result: BlockResult) => Promise<void>;
  ran?: boolean;
}

/** Runs the block: to its end, or (one that keeps running) until it has printed what the guide shows. */
function execute(shell: GuideShell, block: GuideBlock): Promise<BlockResult> {
  if (!block.keepsRunning) return shell.run(block);
  const shown = block.output?.text;
  return shell.startRunning(block, (output) => shown === undefined || matchOutput(shown, output).ok);
}

/** Runs one block with the checks around it: its exit code and its output must be what the guide says. */
export async function runBlock(shell: GuideShell, block: GuideBlock, checks: Check[], t: TestContext): Promise<void> {
  const found = checks.filter((c) => c.at.test(block.code));
  for (const check of found) await check.before?.();
  const result = await execute(shell, block);
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

/**
 * One test per runnable block of the guide (or of one of its paths), in order (a block after a failed
 * one is skipped, saying which failed), then one that every check ran: a guide that stops running a
 * command fails.
 */
export function itRunsEveryBlock(
  guide: Pick<Guide, 'blocks'>,
  shell: () => GuideShell,
  checks: Check[],
  path = 'the guide',
): void {
  let failedAt: number | undefined;
  for (const block of guide.blocks) {
    const title = `line ${block.line}: ${block.code.split('\n').find((l) => l.trim() && !l.startsWith('#'))}`;
    it(title, async (t) => {
      if (failedAt !== undefined) return t.skip(`the block at line ${failedAt} failed, and this one follows from it`);
      try {
        await runBlock(shell(), block, checks, t);
      } catch (error) {
        failedAt = block.line;
        throw error;
      }
    });
  }
  it(`made every data check of ${path} at the block it belongs to`, (t) => {
    if (failedAt !== undefined) return t.skip(`the block at line ${failedAt} failed`);
    assert.deepEqual(
      checks.filter((c) => !c.ran).map((c) => c.what),
      [],
      'the guide no longer runs the command these checks follow',
    );
  });
}
