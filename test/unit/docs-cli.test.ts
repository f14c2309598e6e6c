import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { commandName } from '../../cli/command-table.ts';
import { hindsightCommands } from '../../cli/commands/index.ts';
import { cliDocPath, cliReference } from '../../scripts/docs/cli.ts';

describe('docs/cli.md', () => {
  it('is what the command table generates (scripts/node scripts/docs/cli.ts rewrites it)', async () => {
    const committed = await readFile(cliDocPath, 'utf8');
    const wanted = cliReference();
    if (committed !== wanted) {
      const lines = [committed.split('\n'), wanted.split('\n')] as const;
      const at = lines[1].findIndex((line, i) => line !== lines[0][i]);
      assert.fail(
        `docs/cli.md is stale from line ${at + 1} ("${lines[0][at] ?? ''}" instead of "${lines[1][at] ?? ''}"): run scripts/node scripts/docs/cli.ts`,
      );
    }
  });

  it('has a section for every command of the table', () => {
    const reference = cliReference();
    for (const command of hindsightCommands.commands)
      assert.ok(reference.includes(`\n### ${commandName(command)}\n`), commandName(command));
  });
});
