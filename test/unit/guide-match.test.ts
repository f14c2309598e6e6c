import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseGuide } from '../support/guide-markdown.ts';
import { matchOutput } from '../support/guide-match.ts';

const matches = (expected: string, actual: string) => matchOutput(expected, actual).ok;

describe("a guide's expected output", () => {
  it('matches the same text, ignoring trailing spaces and blank lines at either end', () => {
    assert.ok(matches('backup done\n  rows 3', '\nbackup done   \n  rows 3\n\n'));
  });

  it('fails on a changed word, a missing line or an extra line', () => {
    assert.ok(!matches('backup done', 'backup failed'));
    assert.ok(!matches('a\nb', 'a'));
    assert.ok(!matches('a', 'a\nb'));
    assert.ok(!matches('a', ''));
  });

  it('takes … within a line for any text on that line, and only that line', () => {
    assert.ok(matches('backup … of "shop": complete', 'backup 20261206T231744Z-c52659 of "shop": complete'));
    assert.ok(matches('(…)', '()'), 'nothing at all');
    assert.ok(matches('… KiB', '5.7 KiB'));
    assert.ok(matches('a … b … c', 'a 1 b 2 b 3 c'));
    assert.ok(!matches('backup … of "shop": complete', 'backup 1 of "shop": failed'));
    assert.ok(!matches('a …', 'a 1\nb'), 'a wildcard inside a line never spans two');
  });

  it('treats everything else literally, regular-expression characters included', () => {
    assert.ok(!matches('rows (3)', 'rows 3'));
    assert.ok(!matches('a.c', 'abc'));
    assert.ok(matches('1 * 2 [x] $ ^', '1 * 2 [x] $ ^'));
  });

  it('takes a line of … alone for any number of lines, none included', () => {
    assert.ok(matches('first\n…\nlast', 'first\nlast'));
    assert.ok(matches('first\n…\nlast', 'first\n1\n2\n3\nlast'));
    assert.ok(matches('…\n  next run …\n…', 'schedule x\n  next run Mon\n  next run Tue\npitr off'));
    assert.ok(!matches('first\n…\nlast', 'first\n1\n2'));
    assert.ok(!matches('…\nnext run …\n…', 'schedule x\npitr off'));
  });

  it('names the first line that differs, and what was printed there', () => {
    const result = matchOutput('backup … complete\n  rows 3 in 1 tables', 'backup 1 complete\n  rows 4 in 1 tables');
    assert.equal(result.ok, false);
    assert.match(
      !result.ok ? result.message : '',
      /expected line 2: " {2}rows 3 in 1 tables"\n {2}printed: " {2}rows 4/,
    );
  });
});

describe('the runnable blocks of a guide', () => {
  const guide = [
    '# Guide',
    '```sh title="settings"',
    "export SHOP_URL='postgres://…'",
    'export S3_BUCKET=acme   # a comment',
    '```',
    '```sh',
    'not run',
    '```',
    '```sh title="run"',
    'hindsight backup shop --wait',
    '```',
    'It prints:',
    '```text title="output"',
    'backup … complete',
    '```',
    '```sh title="run: fails"',
    'hindsight db schedule shop "0 3 31 2 *"',
    '```',
    '````md',
    '```sh title="run"',
    'inside another block: prose',
    '```',
    '````',
  ].join('\n');

  it('are the marked blocks in order, each with its output, and the settings they rely on', () => {
    assert.deepEqual(parseGuide(guide), {
      settings: ['SHOP_URL', 'S3_BUCKET'],
      blocks: [
        {
          line: 9,
          code: 'hindsight backup shop --wait',
          fails: false,
          output: { line: 13, text: 'backup … complete' },
        },
        { line: 16, code: 'hindsight db schedule shop "0 3 31 2 *"', fails: true },
      ],
    });
  });

  it('refuse an output block that follows no runnable block, and a misspelt marker', () => {
    assert.throws(
      () => parseGuide('```sh\nls\n```\n```text title="output"\nx\n```'),
      /line 4: an output block must follow/,
    );
    assert.throws(() => parseGuide('```sh title="run:fail"\nls\n```'), /unknown marker/);
    assert.throws(() => parseGuide('```sh title="run"\nls\n'), /never closed/);
  });
});
