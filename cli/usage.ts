/** `--help` text and docs/cli.md, both generated from the command table so neither can drift. */
import {
  argSynopsis,
  commandName,
  flagsOf,
  type CommandShape,
  type ResolvedFlag,
  type TableShape,
} from './command-table.ts';

type AnyTable = TableShape;
type AnyCommand = CommandShape;

const flagSynopsis = (f: ResolvedFlag): string => {
  const short = f.short ? `-${f.short}, ` : '';
  const spelled = `${short}--${f.name}${f.type === 'string' ? ` <${f.value ?? 'value'}>` : ''}${f.repeatable ? ' ...' : ''}`;
  return f.required ? spelled : `[${spelled}]`;
};

const ownFlags = (table: AnyTable, command: AnyCommand): ResolvedFlag[] =>
  flagsOf(table, command).filter((f) => !table.globals.includes(f.name) && !table.session.includes(f.name));

/** `hindsight db add <name> --url <postgres-url> [--storage <...>]`: the command's own flags. */
export function synopsis(table: AnyTable, command: AnyCommand): string {
  return [
    table.program,
    ...command.words,
    ...command.args.map(argSynopsis),
    ...ownFlags(table, command).map(flagSynopsis),
  ].join(' ');
}

const flagLine = (f: ResolvedFlag): string =>
  `${`${f.short ? `-${f.short}, ` : ''}--${f.name}${f.type === 'string' ? ` <${f.value ?? 'value'}>` : ''}`}${f.required ? ' (required)' : ''}${f.repeatable ? ' (repeatable)' : ''}`;

function globalLines(table: AnyTable): string[] {
  const flags = [...table.session, ...table.globals].map((name) => ({ ...table.flags[name]!, name, required: false }));
  return flags.map((f) => `  ${flagLine(f).padEnd(26)} ${f.description}`);
}

const localCommands = (table: AnyTable, quote = ''): string =>
  table.commands
    .filter((c) => c.local)
    .map((c) => `${quote}${commandName(c)}${quote}`)
    .join(', ');

/** `hindsight --help`: every command, one line each. */
export function programUsage(table: AnyTable, prefix: string[] = []): string {
  const commands = table.commands.filter((c) => prefix.every((w, i) => c.words[i] === w));
  const lines = [`usage: ${table.program} <command> [arguments] [flags]`, ''];
  for (const c of commands.length ? commands : table.commands) {
    const call = [commandName(c), ...c.args.map(argSynopsis)].join(' ');
    lines.push(call.length > 34 ? `  ${call}\n  ${''.padEnd(34)} ${c.summary}` : `  ${call.padEnd(34)} ${c.summary}`);
  }
  lines.push(
    '',
    `${table.program} <command> --help shows a command's arguments and flags. Every command takes:`,
    ...globalLines(table),
  );
  lines.push(`  (${table.session.map((f) => `--${f}`).join(', ')}: not ${localCommands(table)}, which act as no one)`);
  return `${lines.join('\n')}\n`;
}

/** `hindsight <command> --help`. */
export function commandUsage(table: AnyTable, command: AnyCommand): string {
  const lines = [`usage: ${synopsis(table, command)}`, '', `  ${command.summary}`];
  for (const detail of command.details ?? []) lines.push(`  ${detail}`);
  const flags = flagsOf(table, command);
  lines.push('');
  for (const f of flags) lines.push(`  ${flagLine(f).padEnd(34)} ${f.description}`);
  return `${lines.join('\n')}\n`;
}

/** A table cell: a bare "|" would end it. */
const cell = (text: string): string => text.replaceAll('|', '\\|');
/** Prose: "<email>" would be read as an HTML tag. */
const prose = (text: string): string => cell(text).replaceAll('<', '&lt;');
const sentence = (text: string): string => `${prose(text.charAt(0).toUpperCase() + text.slice(1))}.`;

/** docs/cli.md. */
export function markdownReference(table: AnyTable): string {
  const lines = [
    `# The \`${table.program}\` command`,
    '',
    '<!-- Generated from the command table (cli/commands/) by scripts/docs/cli.ts; do not edit by hand. -->',
    '',
    'Every command acts through the same services and authorization as the console and the API. By default it acts as the',
    'local operator (every right, audited as `cli:<os user>`); `--as <email>` or `HINDSIGHT_AS=<email>` makes it act with that',
    "user's roles. A flag a command does not take is refused (exit 2), naming the flags it takes.",
    '',
    '## Flags every command takes',
    '',
    '| Flag | Meaning |',
    '| --- | --- |',
    ...[...table.globals, ...table.session].map(
      (name) =>
        `| \`${cell(flagLine({ ...table.flags[name]!, name, required: false }))}\` | ${prose(table.flags[name]!.description)}${table.session.includes(name) ? ` (not ${localCommands(table, '`')})` : ''} |`,
    ),
    '',
    '## Commands',
  ];
  for (const command of table.commands) {
    lines.push(
      '',
      `### ${commandName(command)}`,
      '',
      '```',
      synopsis(table, command),
      ...(command.details ?? []).map((d) => `  ${d}`),
      '```',
      '',
      sentence(command.summary),
    );
    const own = ownFlags(table, command);
    if (own.length > 0) {
      lines.push('', '| Flag | Meaning |', '| --- | --- |');
      for (const f of own) lines.push(`| \`${cell(flagLine(f))}\` | ${prose(f.description)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
