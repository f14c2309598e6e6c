import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandName, flagsOf, parseCommandLine, type CommandTable } from '../../cli/command-table.ts';
import { hindsightCommands } from '../../cli/commands/index.ts';
import { UsageError } from '../../cli/output.ts';
import { commandUsage, programUsage } from '../../cli/usage.ts';

type Flags = Record<string, unknown>;
const handled: string[] = [];

/** A small table of its own, so that each rule of the parser is shown on a command made for it. */
const table: CommandTable<Flags> = {
  program: 'demo',
  flags: {
    json: { type: 'boolean', description: 'JSON' },
    help: { type: 'boolean', short: 'h', description: 'usage' },
    as: { type: 'string', value: 'email', description: 'actor' },
    url: { type: 'string', value: 'url', description: 'where' },
    wait: { type: 'boolean', description: 'wait' },
    tag: { type: 'string', value: 'tag', repeatable: true, description: 'a tag' },
    output: { type: 'string', short: 'o', value: 'file', description: 'out' },
  },
  globals: ['json', 'help'],
  session: ['as'],
  commands: [
    {
      words: ['db', 'add'],
      args: [{ name: 'name' }],
      flags: [{ name: 'url', required: true }, 'tag'],
      summary: 'adds',
      handler: async () => void handled.push('db add'),
    },
    { words: ['db', 'list'], args: [], flags: [], summary: 'lists', handler: async () => void handled.push('db list') },
    {
      words: ['backup'],
      args: [{ name: 'db' }, { name: 'label', optional: true }],
      flags: ['wait', 'output'],
      summary: 'backs up',
      handler: async () => undefined,
    },
    {
      words: ['tool'],
      args: [{ name: 'files', variadic: true }],
      flags: [],
      local: true,
      summary: 'a local tool',
      handler: async () => undefined,
    },
  ],
};

const parse = (...argv: string[]) => {
  const outcome = parseCommandLine(table, argv);
  assert.equal(outcome.help, false);
  return outcome as Extract<typeof outcome, { help: false }>;
};
const refused = (argv: string[], message: RegExp) =>
  assert.throws(
    () => parseCommandLine(table, argv),
    (error: unknown) => {
      assert.ok(error instanceof UsageError, `a usage error, not ${String(error)}`);
      assert.match(error.message, message);
      assert.ok(!error.message.includes('\n'), 'one line');
      return true;
    },
  );

describe('command table parser', () => {
  it('refuses a flag the command does not take, naming the command and the flags it does take', () => {
    refused(
      ['db', 'add', 'x', '--url', 'u', '--wait'],
      /^db add does not take --wait; it takes --url, --tag, --as, --json, --help$/,
    );
    refused(['db', 'list', '--nonsense'], /^db list does not take --nonsense; it takes --as, --json, --help$/);
    refused(['tool', '--as', 'a@b.c'], /^tool does not take --as; it takes --json, --help$/);
  });

  it('refuses a missing required flag, and a flag missing its value', () => {
    refused(['db', 'add', 'x'], /^db add needs --url <url>$/);
    refused(['db', 'add', 'x', '--url'], /^--url needs a value/);
    refused(
      ['db', 'add', 'x', '--url', '--json'],
      /^--url needs a value before --json \(a value that starts with "--" is written --url=<value>\)$/,
    );
    assert.equal(parse('db', 'add', 'x', '--url=--json').parsed.flags.url, '--json');
    assert.equal(parse('db', 'add', 'x', '--url', '-').parsed.flags.url, '-');
  });

  it('takes --flag value, --flag=value, -o value and -ovalue alike', () => {
    assert.equal(parse('db', 'add', 'x', '--url', 'postgres://a').parsed.flags.url, 'postgres://a');
    assert.equal(
      parse('db', 'add', 'x', '--url=postgres://a?x=1').parsed.flags.url,
      'postgres://a?x=1',
      'only the first "=" splits',
    );
    assert.equal(parse('backup', 'shop', '-o', 'f.dump').parsed.flags.output, 'f.dump');
    assert.equal(parse('backup', 'shop', '-of.dump').parsed.flags.output, 'f.dump');
    assert.equal(parse('backup', 'shop', '--output=f.dump').parsed.flags.output, 'f.dump');
  });

  it('keeps every value of a repeatable flag in order, and refuses a second value of any other', () => {
    assert.deepEqual(parse('db', 'add', 'x', '--url', 'u').parsed.flags.tag, []);
    assert.deepEqual(parse('db', 'add', 'x', '--tag', 'a', '--url', 'u', '--tag=b').parsed.flags.tag, ['a', 'b']);
    refused(['db', 'add', 'x', '--url', 'u', '--url', 'v'], /^db add: --url is given more than once$/);
    refused(['backup', 'shop', '--wait', '--wait'], /given more than once/);
  });

  it('makes booleans false unless given, refuses a value on one, and does not let one swallow an argument', () => {
    const quiet = parse('backup', 'shop');
    assert.equal(quiet.parsed.flags.wait, false);
    assert.equal(quiet.parsed.flags.json, false);
    const loud = parse('backup', '--wait', 'shop', '--json');
    assert.equal(loud.parsed.flags.wait, true);
    assert.equal(loud.parsed.flags.json, true);
    assert.deepEqual(loud.parsed.args, ['shop']);
    refused(['backup', 'shop', '--wait=yes'], /^--wait takes no value$/);
  });

  it('checks the number of arguments: required, optional, variadic, and "--" ending the flags', () => {
    refused(['db', 'add'], /^db add needs <name>/);
    refused(['backup'], /^backup needs <db>/);
    refused(['backup', ''], /^backup needs <db>/);
    assert.deepEqual(parse('backup', 'shop', 'nightly').parsed.args, ['shop', 'nightly']);
    refused(['backup', 'shop', 'nightly', 'postgres://u:secret@h/db'], /^backup takes <db> \[<label>\], not 3/);
    assert.throws(
      () => parseCommandLine(table, ['backup', 'a', 'b', 'postgres://u:secret@h/db']),
      (e: Error) => !e.message.includes('secret'),
      'values are not echoed',
    );
    refused(['db', 'list', 'extra'], /^db list takes no arguments, not 1/);
    assert.deepEqual(parse('tool', 'a', 'b', 'c').parsed.args, ['a', 'b', 'c']);
    assert.deepEqual(parse('tool', '--', '--json', '-x').parsed.args, ['--json', '-x']);
    assert.deepEqual(
      parse('db', 'add', 'x', '--url', 'u').parsed.positionals,
      ['db', 'add', 'x'],
      'the words come first',
    );
  });

  it('names the commands of a group for an unknown word, and the help for an unknown command', () => {
    refused(['db', 'frob'], /^unknown command: db frob; db takes add, list$/);
    refused(['nope'], /^unknown command: nope; demo --help lists the commands$/);
  });

  it('answers --help for the program, a group and a command', () => {
    assert.deepEqual(parseCommandLine(table, []), { help: true, prefix: [] });
    assert.deepEqual(parseCommandLine(table, ['--help']), { help: true, prefix: [] });
    const group = parseCommandLine(table, ['db', '-h']);
    assert.ok(group.help && !group.command);
    assert.match(programUsage(table, ['db']), /db add <name>.*adds\n.*db list.*lists\n/s);
    assert.doesNotMatch(programUsage(table, ['db']), /backs up/);
    const one = parseCommandLine(table, ['db', 'add', '--help']);
    assert.ok(one.help && one.command);
    assert.match(commandUsage(table, one.command), /^usage: demo db add <name> --url <url> \[--tag <tag> \.\.\.\]\n/);
    assert.match(commandUsage(table, one.command), /--url <url> \(required\)/);
  });

  it('dispatches to the handler of the command found', async () => {
    const outcome = parse('db', 'list');
    await outcome.command.handler(outcome.parsed);
    assert.deepEqual(handled.splice(0), ['db list']);
  });
});

describe('the hindsight command table', () => {
  it('gives every command a handler, a summary, and flags the catalog declares with a description', () => {
    assert.ok(hindsightCommands.commands.length >= 40, 'the whole CLI is in the table');
    for (const command of hindsightCommands.commands) {
      const name = commandName(command);
      assert.equal(typeof command.handler, 'function', `${name} has a handler`);
      assert.ok(command.summary.trim().length > 10, `${name} has a summary`);
      for (const flag of flagsOf(hindsightCommands, command))
        assert.ok(flag.description.trim().length > 3, `${name} --${flag.name} has a description`);
    }
  });

  it("declares each command once, and never a command that another one's words would hide", () => {
    const names = hindsightCommands.commands.map(commandName);
    assert.equal(new Set(names).size, names.length, `duplicates in ${names.join(', ')}`);
    for (const command of hindsightCommands.commands) {
      const outcome = parseCommandLine(hindsightCommands, [
        ...command.words,
        ...command.args.filter((a) => !a.optional && !a.variadic).map(() => 'x'),
        ...flagsOf(hindsightCommands, command)
          .filter((f) => f.required)
          .flatMap((f) => [`--${f.name}`, 'v']),
      ]);
      assert.ok(!outcome.help && outcome.command === command, `${commandName(command)} parses to itself`);
    }
  });

  it('refuses what it used to ignore: a flag of another command', () => {
    assert.throws(
      () => parseCommandLine(hindsightCommands, ['db', 'add', 'x', '--url', 'postgres://h/db', '--pitr']),
      /^Error: db add does not take --pitr; it takes --url, --password-file, --storage, --schedule, --timezone, --no-check, --jobs, --encryption, --workspace, --as, --json, --help$/,
    );
    assert.throws(() => parseCommandLine(hindsightCommands, ['doctor', '--as', 'a@b.c']), /doctor does not take --as/);
    assert.throws(() => parseCommandLine(hindsightCommands, ['download', 'b1']), /download needs --output <file>/);
  });
});
