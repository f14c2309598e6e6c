/**
 * What people type and set, generated: argv for the `hindsight` command built from real command
 * words, every flag of the catalog (a command's own and other commands'), `--flag=value` forms and
 * odd or huge values; and environments for the configuration loader with any variable set to any
 * string. Either input is accepted, or refused with one line naming the problem — never another
 * kind of error, never a stack trace, never a line break in the message.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCommandLine } from '../../cli/command-table.ts';
import { hindsightCommands } from '../../cli/commands/index.ts';
import { flagCatalog } from '../../cli/flags.ts';
import { UsageError, reportFailure } from '../../cli/output.ts';
import { configVariables, loadConfig } from '../../lib/config.ts';
import { HindsightError } from '../../lib/errors.ts';

const words = [...new Set(hindsightCommands.commands.flatMap((c) => c.words))];
const flags = Object.keys(flagCatalog);
const oddValue = fc.oneof(
  fc.string(),
  fc.constantFrom('', '-', '--', '=', '0', '-1', '1e309', 'NaN', '\u0000', 'a\nb', '{"a":1}', '@/nonexistent'),
  fc.string({ minLength: 5000, maxLength: 20000 }),
  fc.integer().map(String),
);
const token = fc.oneof(
  fc.constantFrom(...words),
  fc.constantFrom(...flags).map((f) => `--${f}`),
  fc.tuple(fc.constantFrom(...flags), oddValue).map(([f, v]) => `--${f}=${v}`),
  fc.constantFrom('-h', '--help', '-o', '-x', '--no-such-flag'),
  oddValue,
);
/** A real command's words first, most of the time, so that the flags are checked against a command. */
const argv = fc.oneof(
  fc
    .tuple(fc.constantFrom(...hindsightCommands.commands), fc.array(token, { maxLength: 8 }))
    .map(([c, rest]) => [...c.words, ...rest]),
  fc.array(token, { maxLength: 8 }),
);

describe('generated input: accepted, or refused in one line', () => {
  it('the command line parses, or is refused as a usage mistake (exit 2) in one line', () => {
    fc.assert(
      fc.property(argv, (args) => {
        try {
          parseCommandLine(hindsightCommands, args);
          return true;
        } catch (error) {
          assert.ok(error instanceof UsageError, `${(error as Error).stack}\n(argv: ${JSON.stringify(args)})`);
          assert.ok(!error.message.includes('\n') || args.some((a) => a.includes('\n')), error.message);
          const written: string[] = [];
          const write = process.stderr.write.bind(process.stderr);
          process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
          try {
            assert.equal(reportFailure(error, false), 2);
          } finally {
            process.stderr.write = write;
          }
          assert.equal(written.join('').split('\n').length, 2, 'one line on stderr');
          return true;
        }
      }),
      { numRuns: 800 },
    );
  });

  it('the configuration loads, or is refused naming every bad variable, in one line', () => {
    const env = fc.dictionary(fc.constantFrom(...configVariables), oddValue, { maxKeys: 6 });
    fc.assert(
      fc.property(env, (vars) => {
        // No file is read: HINDSIGHT_CONFIG_FILE points where nothing is, or is left out.
        const given = { ...vars, HINDSIGHT_CONFIG_FILE: undefined };
        try {
          loadConfig(given);
          return true;
        } catch (error) {
          assert.ok(error instanceof HindsightError, `${(error as Error).stack}\n(env: ${JSON.stringify(vars)})`);
          assert.equal(error.kind, 'bad_input');
          assert.match(error.message, /^invalid configuration: /);
          assert.ok(!error.message.includes('\n') || Object.values(vars).some((v) => v.includes('\n')), error.message);
          return true;
        }
      }),
      { numRuns: 500 },
    );
  });
});
