/**
 * The shape of a `hindsight` command table and its parser. Every command is declared once (its
 * words, arguments, flags, summary and handler), so that the parser can refuse a flag the command
 * does not take instead of ignoring it, and so that `--help` and docs/cli.md are generated from the
 * same declaration (cli/usage.ts).
 */
import { UsageError } from './output.ts';

export interface FlagDef {
  type: 'string' | 'boolean';
  /** What the value is, shown as `--flag <value>`. */
  value?: string;
  short?: string;
  /** Given more than once, every value is kept (in order); otherwise a second occurrence is refused. */
  repeatable?: boolean;
  description: string;
}

export type FlagCatalog = Record<string, FlagDef>;

/** A flag a command takes: a catalog name, or one with the command's own wording, value or requirement. */
export type FlagUse<Name extends string = string> =
  Name | { name: Name; required?: boolean; description?: string; value?: string };

export interface ArgDef {
  name: string;
  optional?: boolean;
  /** Takes every remaining argument. */
  variadic?: boolean;
  description?: string;
}

export interface ParsedCommand<Flags = Record<string, unknown>> {
  /** Everything that is not a flag, the command's words first (what the handlers of old took). */
  positionals: string[];
  /** The arguments after the command's words. */
  args: string[];
  flags: Flags;
}

export interface CommandDef<Flags = Record<string, unknown>, Name extends string = string> {
  words: string[];
  args: ArgDef[];
  flags: Array<FlagUse<Name>>;
  summary: string;
  /** Lines of explanation under the synopsis in `--help` and docs/cli.md. */
  details?: string[];
  /** Without the catalog (no --as: the command does not act as anyone). */
  local?: boolean;
  handler: (command: ParsedCommand<Flags>) => Promise<void>;
}

export interface CommandTable<Flags = Record<string, unknown>> {
  program: string;
  flags: FlagCatalog;
  /** Flags every command takes. */
  globals: string[];
  /** Flags every command takes unless it is `local`. */
  session: string[];
  commands: Array<CommandDef<Flags>>;
}

/** A command as usage and checks see it: everything but the handler. */
export type CommandShape = Omit<CommandDef<never>, 'handler'>;
export type TableShape = Omit<CommandTable<never>, 'commands'> & { commands: CommandShape[] };

export interface ResolvedFlag extends FlagDef {
  name: string;
  required: boolean;
}

export const commandName = (command: Pick<CommandDef, 'words'>): string => command.words.join(' ');

/** The flags a command takes, its own first, then the session and global ones. */
export function flagsOf(table: TableShape, command: CommandShape): ResolvedFlag[] {
  const uses: FlagUse[] = [...command.flags, ...(command.local ? [] : table.session), ...table.globals];
  return uses.map((use) => {
    const { name, required = false, description, value } = typeof use === 'string' ? { name: use } : use;
    const def = table.flags[name];
    if (!def) throw new Error(`${commandName(command)} names flag --${name}, which the flag catalog does not declare`);
    return { ...def, name, required, description: description ?? def.description, ...(value ? { value } : {}) };
  });
}

interface Token {
  name: string;
  value: string | true;
  spelled: string;
}

/** Splits argv into flags and positionals, knowing from the catalog which flags take a value. */
function tokenize(argv: string[], catalog: FlagCatalog): { tokens: Token[]; positionals: string[] } {
  const byShort = new Map(
    Object.entries(catalog)
      .filter(([, d]) => d.short)
      .map(([n, d]) => [d.short!, n]),
  );
  const tokens: Token[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
    } else if (arg.startsWith('-') && arg.length > 1) {
      name = byShort.get(arg[1]!) ?? arg.slice(1);
      inline = arg.length > 2 && byShort.has(arg[1]!) ? arg.slice(2) : undefined;
    } else {
      positionals.push(arg);
      continue;
    }
    const def = catalog[name];
    // An unknown flag is kept as a boolean; it is refused once the command is known, naming it.
    if (!def || def.type === 'boolean') {
      if (inline !== undefined && def) throw new UsageError(`${arg.split('=')[0]} takes no value`);
      tokens.push({ name, value: true, spelled: arg.split('=')[0]! });
      continue;
    }
    const value = inline ?? argv[i + 1];
    if (inline === undefined) i += 1;
    if (value === undefined) throw new UsageError(`${arg} needs a value: ${arg} <${def.value ?? 'value'}>`);
    // `--url --no-check` forgot the URL; a value that really starts with "--" is written --url=--….
    if (inline === undefined && value.startsWith('--') && catalog[value.slice(2).split('=')[0]!]) {
      throw new UsageError(
        `${arg} needs a value before ${value.split('=')[0]} (a value that starts with "--" is written ${arg}=<value>)`,
      );
    }
    tokens.push({ name, value, spelled: arg.startsWith('--') ? `--${name}` : arg.slice(0, 2) });
  }
  return { tokens, positionals };
}

/** The command whose words begin the positionals, the longest such (`db pitr` before a `db`). */
const matchCommand = <Flags>(table: CommandTable<Flags>, positionals: string[]): CommandDef<Flags> | undefined =>
  table.commands
    .filter((c) => c.words.every((w, i) => positionals[i] === w))
    .sort((a, b) => b.words.length - a.words.length)[0];

/** The command the positionals name, or a refusal naming the choices. */
export function findCommand<Flags>(table: CommandTable<Flags>, positionals: string[]): CommandDef<Flags> {
  const best = matchCommand(table, positionals);
  if (best) return best;
  const group = table.commands.filter((c) => c.words.length > 1 && c.words[0] === positionals[0]);
  if (group.length > 0) {
    throw new UsageError(
      `unknown command: ${positionals.slice(0, 2).join(' ')}; ${positionals[0]} takes ${group.map((c) => c.words.slice(1).join(' ')).join(', ')}`,
    );
  }
  throw new UsageError(`unknown command: ${positionals[0]}; ${table.program} --help lists the commands`);
}

const listFlags = (flags: ResolvedFlag[]) => flags.map((f) => `--${f.name}`).join(', ');

function checkArgs(command: CommandShape, args: string[], program: string): void {
  const name = commandName(command);
  const required = command.args.filter((a) => !a.optional && !a.variadic);
  const missing = required[args.length] ?? required.find((_, i) => args[i] === '');
  if (missing)
    throw new UsageError(
      `${name} needs <${missing.name}>: ${program} ${name} ${command.args.map(argSynopsis).join(' ')}`,
    );
  const variadic = command.args.some((a) => a.variadic);
  if (!variadic && args.length > command.args.length) {
    // The values are not echoed: a misplaced one may be a URL with its password.
    const takes = command.args.length === 0 ? 'takes no arguments' : `takes ${command.args.map(argSynopsis).join(' ')}`;
    throw new UsageError(`${name} ${takes}, not ${args.length} (a value with spaces needs quotes)`);
  }
}

export const argSynopsis = (arg: ArgDef): string => {
  const inner = `<${arg.name}>${arg.variadic ? '...' : ''}`;
  return arg.optional || arg.variadic ? `[${inner}]` : inner;
};

/** Values of the command's flags: booleans false unless given, repeatable ones as arrays. */
function collectFlags(command: CommandShape, allowed: ResolvedFlag[], tokens: Token[]): Record<string, unknown> {
  const name = commandName(command);
  const byName = new Map(allowed.map((f) => [f.name, f]));
  const values: Record<string, unknown> = {};
  for (const def of allowed) {
    if (def.type === 'boolean') values[def.name] = false;
    else if (def.repeatable) values[def.name] = [];
  }
  for (const token of tokens) {
    const def = byName.get(token.name);
    if (!def) throw new UsageError(`${name} does not take ${token.spelled}; it takes ${listFlags(allowed)}`);
    if (def.repeatable && def.type === 'string') (values[token.name] as string[]).push(token.value as string);
    else if (values[token.name] !== undefined && values[token.name] !== false)
      throw new UsageError(`${name}: ${token.spelled} is given more than once`);
    else values[token.name] = token.value;
  }
  return values;
}

function checkRequired(command: CommandShape, allowed: ResolvedFlag[], values: Record<string, unknown>): void {
  for (const def of allowed) {
    if (def.required && values[def.name] === undefined)
      throw new UsageError(`${commandName(command)} needs --${def.name} <${def.value ?? 'value'}>`);
  }
}

export type ParseOutcome<Flags> =
  | { help: true; command?: CommandDef<Flags> | undefined; prefix: string[] }
  | { help: false; command: CommandDef<Flags>; parsed: ParsedCommand<Flags> };

/** Parses argv against the table: the command, its arguments and its flags, or a UsageError. */
export function parseCommandLine<Flags>(table: CommandTable<Flags>, argv: string[]): ParseOutcome<Flags> {
  const { tokens, positionals } = tokenize(argv, table.flags);
  if (positionals.length === 0 || tokens.some((t) => t.name === 'help')) {
    if (positionals.length === 0) {
      const unknown = tokens.find((t) => !table.flags[t.name]);
      if (unknown) throw new UsageError(`unknown flag ${unknown.spelled}; ${table.program} --help lists the commands`);
      return { help: true, prefix: [] };
    }
    return { help: true, command: matchCommand(table, positionals), prefix: positionals.slice(0, 2) };
  }
  const command = findCommand(table, positionals);
  const allowed = flagsOf(table, command);
  const values = collectFlags(command, allowed, tokens);
  const args = positionals.slice(command.words.length);
  checkArgs(command, args, table.program);
  checkRequired(command, allowed, values);
  return { help: false, command, parsed: { positionals, args, flags: values as Flags } };
}
